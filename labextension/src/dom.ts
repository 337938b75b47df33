/**
 * Building DOM with text only: every name from the project (datasets, runs, models, endpoints)
 * is set as textContent, never parsed as HTML.
 */

export interface IElementOptions {
  className?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
  onClick?: (event: MouseEvent) => void;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: IElementOptions = {},
  children: (Node | string | null | undefined)[] = []
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.className) {
    node.className = options.className;
  }
  if (options.text !== undefined) {
    node.textContent = options.text;
  }
  if (options.title) {
    node.title = options.title;
  }
  for (const [key, value] of Object.entries(options.attrs ?? {})) {
    node.setAttribute(key, value);
  }
  if (options.onClick) {
    node.addEventListener('click', options.onClick as EventListener);
  }
  for (const child of children) {
    if (child === null || child === undefined) {
      continue;
    }
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Replace a node's children. */
export function fill(node: HTMLElement, children: (Node | string)[]): void {
  node.replaceChildren(...children);
}

/** A one-line message (an error, or nothing to show yet). */
export function note(text: string, kind: 'empty' | 'error' = 'empty'): HTMLElement {
  return el('div', { className: `mlops-note mlops-note-${kind}`, text });
}
