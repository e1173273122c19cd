import type { Page } from 'playwright-core';

/**
 * Accessibility checks the page tests share (serve page, dashboard, report), run in the real page in Chromium: its
 * accessibility tree (CDP), computed styles and the keyboard. Each returns what it found wrong, one line per problem,
 * so a failure names the element; an empty list is a pass. The in-page parts are strings: the tests' tsconfig has no
 * DOM types.
 */

/** Roles a user operates, or reads as one thing: each needs an accessible name (WCAG 4.1.2, 1.1.1). */
const NAMED_ROLES = new Set(['button', 'link', 'textbox', 'searchbox', 'combobox', 'listbox', 'checkbox', 'radio', 'switch', 'spinbutton', 'slider', 'meter', 'progressbar', 'image', 'img', 'dialog', 'table', 'columnheader', 'rowheader']);

export interface AxNode {
  readonly role: string;
  readonly name: string;
  /** The node's live-region politeness ('polite', 'assertive'), when it is a live region. */
  readonly live?: string;
  /** Its accessible description (`aria-describedby`'s text), when it has one. */
  readonly description?: string;
  /** Its `aria-invalid` state ('true', 'grammar', 'spelling'), when it is marked invalid. */
  readonly invalid?: string;
}

interface CdpAxNode {
  nodeId: string;
  childIds?: string[];
  ignored: boolean;
  role?: { value?: unknown };
  name?: { value?: unknown };
  description?: { value?: unknown };
  properties?: { name: string; value: { value?: unknown } }[];
}

/** The page's accessibility tree as Chromium gives it to screen readers, without the nodes it hides from them. */
export async function accessibilityTree(page: Page): Promise<AxNode[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as unknown as { nodes: CdpAxNode[] };
    return nodes
      .filter((n) => !n.ignored)
      .map((n) => {
        const live = n.properties?.find((p) => p.name === 'live')?.value.value;
        const invalid = n.properties?.find((p) => p.name === 'invalid')?.value.value;
        const description = String(n.description?.value ?? '').trim();
        return {
          role: String(n.role?.value ?? ''),
          name: String(n.name?.value ?? '').trim(),
          ...(typeof live === 'string' && live !== 'off' ? { live } : {}),
          ...(description ? { description } : {}),
          ...(typeof invalid === 'string' && invalid !== 'false' ? { invalid } : {}),
        };
      });
  } finally {
    await cdp.detach();
  }
}

/** A table as a screen reader reads it: its name (the caption) and, row by row, each cell's role and name. */
export interface AxTable {
  readonly name: string;
  /** Each cell's `role` is `columnheader`, `rowheader` or `cell`: a header marked as such, or a plain cell. */
  readonly rows: readonly (readonly { readonly role: string; readonly name: string }[])[];
}

const CELL_ROLES = new Set(['columnheader', 'rowheader', 'cell', 'gridcell']);

/**
 * The tables in the page's accessibility tree (the ones shown: a table in a closed `<details>` is not there), read
 * through the tree's structure as a screen reader walks it, not from the DOM.
 */
export async function accessibleTables(page: Page): Promise<AxTable[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as unknown as { nodes: CdpAxNode[] };
    const byId = new Map(nodes.map((n) => [n.nodeId, n]));
    const role = (n: CdpAxNode): string => (n.ignored ? '' : String(n.role?.value ?? ''));
    const name = (n: CdpAxNode): string => String(n.name?.value ?? '').trim();
    // The nodes of `roles` under `node`, in document order, not looking inside one (ignored nodes are walked through).
    const under = (node: CdpAxNode, roles: ReadonlySet<string>): CdpAxNode[] =>
      (node.childIds ?? []).flatMap((id) => {
        const child = byId.get(id);
        if (!child) return [];
        return roles.has(role(child)) ? [child] : under(child, roles);
      });
    return nodes
      .filter((n) => role(n) === 'table')
      .map((table) => ({ name: name(table), rows: under(table, new Set(['row'])).map((row) => under(row, CELL_ROLES).map((cell) => ({ role: role(cell), name: name(cell) }))) }));
  } finally {
    await cdp.detach();
  }
}

/** Controls and images without an accessible name, a missing `lang` or `<title>`, and headings that skip a level. */
export async function namingProblems(page: Page): Promise<string[]> {
  const problems = (await accessibilityTree(page)).filter((n) => NAMED_ROLES.has(n.role) && !n.name).map((n) => `a ${n.role} without a name`);
  const page_ = await page.evaluate<{ lang: string; title: string; headings: { level: number; text: string }[] }>(`({
    lang: document.documentElement.lang,
    title: document.title.trim(),
    headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter((h) => h.checkVisibility()).map((h) => ({ level: Number(h.tagName[1]), text: h.textContent.trim() })),
  })`);
  if (!page_.lang) problems.push('<html> has no lang');
  if (!page_.title) problems.push('the page has no <title>');
  let previous = 0;
  for (const h of page_.headings) {
    if (!h.text) problems.push(`an empty h${h.level}`);
    if (h.level > previous + 1) problems.push(`h${h.level} "${h.text}" follows h${previous || '(none)'}`);
    previous = h.level;
  }
  return problems;
}

/**
 * In-page colour functions (a script's text: the tests' tsconfig has no DOM types). Computed colours are rgb() or
 * rgba() in Chromium; anything else fails the check rather than passing unread. `background` composites an element's
 * and its ancestors' background colours over white; `contrast` is WCAG's ratio of two opaque colours.
 */
const COLOUR_FUNCTIONS = `
    const rgba = (css) => {
      const m = /^rgba?\\(([\\d.]+),\\s*([\\d.]+),\\s*([\\d.]+)(?:,\\s*([\\d.]+))?\\)$/.exec(css);
      if (!m) throw new Error('cannot read the colour ' + css);
      return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
    };
    const over = (top, below) => [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
    const luminance = (c) => {
      const [r, g, b] = c.slice(0, 3).map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const background = (element) => {
      const layers = [];
      for (let e = element; e; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      return layers.reduceRight((below, top) => over(top, below), [255, 255, 255, 1]);
    };
    const contrast = (a, b) => {
      const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (light + 0.05) / (dark + 0.05);
    };`;

/**
 * Text whose contrast with what is behind it is under 4.5:1 (3:1 for large text: 24 px, or 18.66 px bold), WCAG
 * 1.4.3, from computed styles: the text's colour (an SVG text's fill) against its own and its ancestors' background
 * colours composited. Disabled controls are exempt, as WCAG says.
 */
export async function contrastProblems(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    ${COLOUR_FUNCTIONS}
    const problems = [];
    const seen = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!node.textContent.trim() || !element || seen.has(element) || !element.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
      seen.add(element);
      if (element.closest(':disabled, [hidden], .visually-hidden')) continue;
      const style = getComputedStyle(element);
      const isSvg = element instanceof SVGElement;
      const behind = background(isSvg ? element.closest('svg') : element);
      const text = over(rgba(isSvg ? style.fill : style.color), behind);
      const ratio = contrast(text, behind);
      const size = parseFloat(style.fontSize);
      const isLarge = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (isLarge ? 3 : 4.5)) {
        const where = element.id ? '#' + element.id : element.tagName.toLowerCase() + (element.className && typeof element.className === 'string' ? '.' + element.className.trim().split(/\\s+/).join('.') : '');
        problems.push(where + ' "' + node.textContent.trim().slice(0, 40) + '": ' + ratio.toFixed(2) + ':1 (' + style.color + ' on rgb(' + behind.slice(0, 3).map(Math.round).join(', ') + '))');
      }
    }
    return problems;
  })()`);
}

/** One stop of a keyboard walk: the element Tab focused and whether the user can see where focus is. */
export interface FocusStop {
  /** `tag#id "text"`: its id where it has one, its aria-label or text where it is not a form field. */
  readonly what: string;
  readonly hasVisibleFocus: boolean;
  /** Whether it comes after the previous stop in the document (no positive tabindex reorders the walk). */
  readonly isInDocumentOrder: boolean;
  /**
   * Contrast of its focus outline with the background around it (outside the element, so its parent's), WCAG 1.4.11
   * asks 3:1; absent when the indicator is a box shadow or there is none.
   */
  readonly outlineContrast?: number;
}

/**
 * Tabs through the page from its top until focus leaves it (or `maxStops`), recording each stop. A walk that never
 * leaves is a keyboard trap. A stop's focus is visible when, focused, it or its label (a visually hidden file input's
 * styled label) draws an outline or a box shadow; an outline's contrast with what is around it is measured too.
 */
export async function tabThrough(page: Page, maxStops = 80): Promise<{ stops: FocusStop[]; leftThePage: boolean }> {
  await page.evaluate(`(() => { document.activeElement?.blur(); window.__focusWalk = { previous: null }; })()`);
  // From the top: a click on the document's start leaves no element focused and puts the Tab start point there.
  await page.mouse.click(1, 1);
  await page.evaluate(`document.activeElement?.blur()`);
  const stops: FocusStop[] = [];
  for (let i = 0; i < maxStops; i++) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate<FocusStop | null>(`(() => {
      const e = document.activeElement;
      if (!e || e === document.body || e === document.documentElement) return null;
      const walk = window.__focusWalk;
      const isInDocumentOrder = !walk.previous || Boolean(walk.previous.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
      walk.previous = e;
      const hasOutline = (el) => { const s = getComputedStyle(el); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; };
      const drawsFocus = (el) => hasOutline(el) || getComputedStyle(el).boxShadow !== 'none';
      const label = [...(e.labels ?? [])].find((l) => l.checkVisibility());
      ${COLOUR_FUNCTIONS}
      const drawn = hasOutline(e) ? e : label && hasOutline(label) ? label : undefined;
      const outlineContrast = drawn ? contrast(over(rgba(getComputedStyle(drawn).outlineColor), background(drawn.parentElement)), background(drawn.parentElement)) : undefined;
      const isField = e.matches('input, select, textarea');
      const text = (e.getAttribute('aria-label') || (isField ? '' : e.textContent) || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
      return { what: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (text ? ' "' + text + '"' : ''), hasVisibleFocus: (e.checkVisibility() && e.getBoundingClientRect().width > 1 && drawsFocus(e)) || Boolean(label && drawsFocus(label)), isInDocumentOrder, ...(outlineContrast === undefined ? {} : { outlineContrast }) };
    })()`);
    if (!stop) return { stops, leftThePage: true };
    // Back at the first stop without passing the end of the page: Tab went round inside the page.
    if (stops.length && stop.what === stops[0]!.what && !stop.isInDocumentOrder) return { stops, leftThePage: true };
    stops.push(stop);
  }
  return { stops, leftThePage: false };
}

/**
 * Tabs from the top of the page until `selector` has focus, as a keyboard user gets there; false when it is not
 * reached in `maxStops`.
 */
export async function tabFromTopTo(page: Page, selector: string, maxStops = 80): Promise<boolean> {
  await page.mouse.click(1, 1);
  await page.evaluate(`document.activeElement?.blur()`);
  for (let i = 0; i < maxStops; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate<boolean>(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return true;
  }
  return false;
}

/**
 * Presses `key` on the focused file control and picks `files` in the chooser that opens, as a keyboard user does.
 * Playwright starts intercepting choosers when one is awaited, without waiting for Chromium: a round trip to the
 * page first makes sure the chooser is caught (without it, a quick key press opened none, now and then).
 */
export async function chooseFilesWithKey(page: Page, key: 'Enter' | 'Space', files: string | string[]): Promise<void> {
  const shown = page.waitForEvent('filechooser', { timeout: 10_000 });
  await page.evaluate('0');
  await page.keyboard.press(key);
  await (await shown).setFiles(files);
}

/** What a walk found wrong: stops without a visible focus, stops out of document order, a trap. */
export function focusProblems(walk: { stops: readonly FocusStop[]; leftThePage: boolean }): string[] {
  return [
    ...walk.stops.filter((s) => !s.hasVisibleFocus).map((s) => `${s.what}: no visible focus indicator`),
    ...walk.stops.filter((s) => !s.isInDocumentOrder).map((s) => `${s.what}: reached out of document order`),
    ...walk.stops.filter((s) => s.outlineContrast !== undefined && s.outlineContrast < 3).map((s) => `${s.what}: focus outline ${s.outlineContrast!.toFixed(2)}:1 against what is around it (3:1 needed)`),
    ...(walk.leftThePage ? [] : [`Tab never left the page after ${walk.stops.length} stops (a keyboard trap?)`]),
  ];
}

/**
 * How a failure reaches a control (`selector`, accessible name `name`), as the accessibility tree gives it to a screen
 * reader: its `invalid` state and description (absent when none), and which of the elements describing it are live
 * regions with text (`saidIn`: the failure was announced as it came). The in-page part is a string: the tests'
 * tsconfig has no DOM types.
 */
export async function failureTie(page: Page, name: string, selector: string): Promise<{ invalid?: string; description?: string; saidIn: string[] }> {
  const node = (await accessibilityTree(page)).find((n) => n.name === name && !['StaticText', 'LabelText', 'InlineTextBox'].includes(n.role));
  if (!node) throw new Error(`no control named ${JSON.stringify(name)} in the accessibility tree`);
  const saidIn = await page.evaluate<string[]>(`(document.querySelector(${JSON.stringify(selector)}).getAttribute('aria-describedby') ?? '').split(/\\s+/)
    .map((id) => document.getElementById(id)).filter((d) => d?.matches('[aria-live]:not([aria-live=off]), [role=status], [role=alert]') && d.textContent.trim()).map((d) => d.id)`);
  return { ...(node.invalid ? { invalid: node.invalid } : {}), ...(node.description ? { description: node.description } : {}), saidIn };
}
