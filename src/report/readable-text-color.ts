/** An sRGB colour, each channel 0..255. */
export type Rgb = readonly [number, number, number];

/** The sRGB colour of CSS `hsl(hue saturation% lightness%)`. */
export function hslToRgb(hue: number, saturationPercent: number, lightnessPercent: number): Rgb {
  const s = saturationPercent / 100;
  const l = lightnessPercent / 100;
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number): number => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [channel(0), channel(8), channel(4)];
}

/** WCAG 2 relative luminance, 0 (black) to 1 (white). */
export function relativeLuminance(rgb: Rgb): number {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/**
 * Black or white text, whichever contrasts more with `background`. One of the two is always at least 4.58:1, over
 * the 4.5:1 WCAG 1.4.3 asks of body text; a lightness threshold is not enough, since a green is far lighter to
 * the eye than a red of the same HSL lightness (white on the report's full green cell was 2.8:1).
 */
export function readableTextOn(background: Rgb): '#000' | '#fff' {
  const l = relativeLuminance(background);
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? '#fff' : '#000';
}
