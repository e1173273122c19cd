// @ts-check
/**
 * A live region that a screen reader can follow: during training the visible status changes several times a second,
 * and a live region rewritten that often is read as a stream. What is announced changes at once on a new step (a
 * phase, a stage such as "features" giving way to "epoch", the end, an error) and otherwise at most every
 * {@link ANNOUNCE_EVERY_MS}, with the latest text.
 */

/** Shortest time between two announcements of one step: a sentence is read in about that long. */
export const ANNOUNCE_EVERY_MS = 5000;

/**
 * @param {HTMLElement} region a visually hidden `role="status"` element; the visible text beside it is not live
 * @param {number} [everyMs]
 */
export function pacedAnnouncer(region, everyMs = ANNOUNCE_EVERY_MS) {
  let lastAt = -Infinity;
  let lastStep = '';
  /** @type {string | undefined} */ let waiting;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ let timer;

  /** @param {string} text */
  const write = (text) => {
    clearTimeout(timer);
    timer = undefined;
    waiting = undefined;
    lastAt = performance.now();
    if (region.textContent !== text) region.textContent = text;
  };

  return {
    /**
     * Announces `text` now when it starts a new step (`step` differs from the last one, or `isUrgent`), else within
     * the pace: at once if the last announcement is old enough, or when it is (the latest text then).
     * @param {string} text @param {{ step: string, isUrgent?: boolean }} options
     */
    announce(text, { step, isUrgent = false }) {
      const isNewStep = step !== lastStep;
      lastStep = step;
      const wait = lastAt + everyMs - performance.now();
      if (isUrgent || isNewStep || wait <= 0) {
        write(text);
        return;
      }
      waiting = text;
      timer ??= setTimeout(() => waiting !== undefined && write(waiting), wait);
    },
    /** Forgets what is waiting and empties the region (another run is shown). */
    clear() {
      clearTimeout(timer);
      timer = undefined;
      waiting = undefined;
      lastStep = '';
      lastAt = -Infinity;
      region.textContent = '';
    },
  };
}
