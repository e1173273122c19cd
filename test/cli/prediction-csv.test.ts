import { describe, expect, it } from 'vitest';
import { csvField } from '../../src/core/csv-text.js';
import { evaluationCsv, predictionCsv } from '../../src/cli/prediction-csv.js';
import { parseCsv } from '../../src/data/scan-csv.js';

describe('predict --csv', () => {
  it('writes a row per image under a manifest-like header, and reads back field for field through the manifest parser', () => {
    const rows = [
      { file: 'photos/a, b.jpg', predictions: [{ label: 'bees', probability: 0.9994134 }, { label: 'ants', probability: 0.0005866 }] },
      { file: 'say "cheese".jpg', predictions: [{ label: 'ants', probability: 1 }] },
      { file: 'broken.jpg', predictions: [], error: 'not an image (content is text)' },
      { file: 'line\nbreak.jpg', predictions: [{ label: ' padded', probability: 0.5 }, { label: 'x', probability: 0.5 }] },
    ];
    const text = predictionCsv(rows, 2);
    expect(text.split('\r\n')[0]).toBe('path,label,probability,label_2,probability_2,error');
    expect(text.endsWith('\r\n')).toBe(true);
    const parsed = parseCsv(text).map((r) => r.fields);
    expect(parsed).toEqual([
      ['path', 'label', 'probability', 'label_2', 'probability_2', 'error'],
      ['photos/a, b.jpg', 'bees', '0.999413', 'ants', '0.000587', ''],
      // Fewer predictions than --top (a model of fewer classes): the columns stay, empty.
      ['say "cheese".jpg', 'ants', '1.000000', '', '', ''],
      ['broken.jpg', '', '', '', '', 'not an image (content is text)'],
      ['line\nbreak.jpg', ' padded', '0.500000', 'x', '0.500000', ''],
    ]);
  });

  it('quotes only what needs it', () => {
    expect(csvField('plain.jpg')).toBe('plain.jpg');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('a"b')).toBe('"a""b"');
    expect(csvField('a\r\nb')).toBe('"a\r\nb"');
    expect(csvField(' lead')).toBe('" lead"');
    expect(csvField('')).toBe('');
  });

  it("eval's: the dataset's label, the model's class and both probabilities, whether it is right, or why it was not scored", () => {
    const text = evaluationCsv([
      { file: 'val/ants/a.jpg', label: 'ants', predicted: 'ants', probability: 0.91, labelProbability: 0.91 },
      { file: 'val/bees/b,1.jpg', label: 'bees', predicted: 'ants', probability: 0.7, labelProbability: 0.3 },
      { file: 'val/bees/broken.jpg', label: 'bees', error: 'not an image' },
    ]);
    expect(parseCsv(text).map((r) => r.fields)).toEqual([
      ['path', 'label', 'predicted', 'probability', 'label_probability', 'correct', 'error'],
      ['val/ants/a.jpg', 'ants', 'ants', '0.910000', '0.910000', 'true', ''],
      ['val/bees/b,1.jpg', 'bees', 'ants', '0.700000', '0.300000', 'false', ''],
      ['val/bees/broken.jpg', 'bees', '', '', '', '', 'not an image'],
    ]);
  });
});
