// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';

import { el, note } from '../src/dom';

describe('names are rendered as text', () => {
  it('never parses a name as HTML', () => {
    const name = '<img src=x onerror="alert(1)">';
    const node = el('li', { text: name, title: name }, [el('b', { text: name }), name]);
    expect(node.querySelector('img')).toBeNull();
    expect(node.textContent).toBe(name.repeat(3));
    expect(node.children).toHaveLength(1);
  });

  it('wires clicks and attributes', () => {
    let clicks = 0;
    const node = el('button', { text: 'Promote', attrs: { 'data-model': 'm' }, onClick: () => clicks++ });
    node.click();
    expect(clicks).toBe(1);
    expect(node.getAttribute('data-model')).toBe('m');
  });

  it('shows errors as one line', () => {
    const shown = note('no endpoint "x" is running', 'error');
    expect(shown.className).toContain('mlops-note-error');
    expect(shown.textContent).toBe('no endpoint "x" is running');
  });
});
