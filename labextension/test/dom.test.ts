// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';

import { VERSION, versionMismatch } from '../src/api';
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
    const node = el('button', {
      text: 'Promote',
      attrs: { 'data-model': 'm' },
      onClick: () => clicks++
    });
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

describe('the panel and the server extension', () => {
  it('says when their versions differ, and what to do', () => {
    expect(versionMismatch('0.1.0', '0.1.0')).toBeNull();
    expect(versionMismatch(undefined, '0.1.0')).toBeNull(); // an older server says nothing
    expect(versionMismatch('0.2.0', '0.1.0')).toMatch(
      /^The server extension is mlops-jupyter 0.2.0, this panel 0.1.0: .*restart JupyterLab/
    );
  });

  it('is the version the package says', async () => {
    const { readFileSync } = await import('node:fs');
    const packaged = JSON.parse(readFileSync(`${__dirname}/../package.json`, 'utf-8'));
    expect(VERSION).toBe(packaged.version);
  });
});
