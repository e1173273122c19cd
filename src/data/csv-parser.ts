/** A CSV whose quoted field is never closed: the line of its opening quote. */
export class UnclosedQuoteError extends Error {
  constructor(readonly line: number) {
    super(`line ${line} opens a quoted field that is never closed`);
    this.name = 'UnclosedQuoteError';
  }
}

/**
 * RFC 4180 records, fed chunk by chunk (a manifest streamed) or whole (`parseCsv`): quoted fields may hold commas, line
 * breaks and doubled quotes. Each record carries the line it starts on, counted from 1.
 */
export class CsvParser {
  private fields: string[] = [];
  private field = '';
  private isInQuotes = false;
  private isQuoteSeen = false; // a quote inside quotes: either the closing one or the first of a doubled pair
  private isCarriageReturn = false;
  private line = 1;
  private rowLine = 1;
  private rowHasContent = false;
  /** The line of the quote that opened the field now in quotes. */
  private quoteLine = 1;

  *push(text: string): Generator<{ line: number; fields: string[] }> {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.isCarriageReturn) {
        this.isCarriageReturn = false;
        if (ch === '\n') continue; // \r\n is one break, already counted
      }
      if (this.isQuoteSeen) {
        this.isQuoteSeen = false;
        if (ch === '"') {
          this.field += '"';
          continue;
        }
        this.isInQuotes = false;
      }
      if (this.isInQuotes) {
        if (ch === '"') this.isQuoteSeen = true;
        else {
          if (ch === '\n') this.line++;
          this.field += ch;
        }
      } else if (ch === '"') {
        this.isInQuotes = true;
        this.quoteLine = this.line;
        this.rowHasContent = true;
      } else if (ch === ',') {
        this.fields.push(this.field);
        this.field = '';
      } else if (ch === '\n' || ch === '\r') {
        this.isCarriageReturn = ch === '\r';
        const row = this.endRow();
        if (row) yield row;
        this.line++;
        this.rowLine = this.line;
      } else {
        this.field += ch;
      }
    }
  }

  /** @throws UnclosedQuoteError when a quoted field is still open: the rest of the file was read into it. */
  *end(): Generator<{ line: number; fields: string[] }> {
    if (this.isQuoteSeen) {
      this.isQuoteSeen = false;
      this.isInQuotes = false;
    }
    if (this.isInQuotes) throw new UnclosedQuoteError(this.quoteLine);
    if (this.field !== '' || this.fields.length > 0 || this.rowHasContent) {
      const row = this.endRow();
      if (row) yield row;
    }
  }

  private endRow(): { line: number; fields: string[] } | undefined {
    this.fields.push(this.field);
    const fields = this.fields;
    const isRow = this.rowHasContent || fields.length > 1 || this.field.trim() !== '';
    this.fields = [];
    this.field = '';
    this.rowHasContent = false;
    return isRow ? { line: this.rowLine, fields } : undefined;
  }
}
