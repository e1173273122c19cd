// @ts-check
/**
 * Ties a failure message to the control it is about, so a screen reader says it there too (WCAG 3.3.1): the control
 * is described by the message (`aria-describedby`) and, a field, marked invalid (`aria-invalid`). The message
 * itself is a live region, which announces it. Editing the field, or the next try, unties it.
 */

/** @param {Element} control @param {string[]} ids */
const setDescribedBy = (control, ids) => (ids.length ? control.setAttribute('aria-describedby', ids.join(' ')) : control.removeAttribute('aria-describedby'));
/** @param {Element} control */
const describedBy = (control) => (control.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);

/**
 * @param {HTMLElement} control the field (or, when no one field is at fault, the button that failed)
 * @param {HTMLElement} message the live region that says the failure
 */
export function tieFailure(control, message) {
  if (!describedBy(control).includes(message.id)) setDescribedBy(control, [...describedBy(control), message.id]);
  if (control.matches('input, select, textarea')) {
    control.setAttribute('aria-invalid', 'true');
    control.addEventListener('input', () => untieFailure(control, message), { once: true });
  }
}

/** @param {HTMLElement} control @param {HTMLElement} message */
export function untieFailure(control, message) {
  setDescribedBy(control, describedBy(control).filter((id) => id !== message.id));
  control.removeAttribute('aria-invalid');
}
