/**
 * Decimal: an exact decimal number that crosses the wire as Python's `decimal.Decimal`. JavaScript has
 * no decimal type, so the value is kept as its text; convert it with a decimal library of your choice
 * or with `toNumber()` when a double is precise enough.
 */

const SYNTAX = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|Infinity|Inf|NaN\d*|sNaN\d*)$/i;

export class Decimal {
  /** The decimal in Python's text form, for example `1.10`, `-0`, `1E+3`, `NaN`, `-Infinity`. */
  readonly value: string;

  constructor(value: string | number | bigint) {
    let text: string;
    if (typeof value === 'string') text = value.trim();
    else if (typeof value === 'bigint') text = value.toString();
    else if (typeof value === 'number') {
      if (Number.isNaN(value)) text = 'NaN';
      else if (!Number.isFinite(value)) text = value > 0 ? 'Infinity' : '-Infinity';
      else text = Object.is(value, -0) ? '-0' : String(value);
    } else {
      throw new TypeError(`Decimal takes a string, number or bigint, got ${value === null ? 'null' : typeof value}`);
    }
    if (!SYNTAX.test(text)) throw new SyntaxError(`not a decimal number: ${JSON.stringify(value)}`);
    this.value = text;
    Object.freeze(this);
  }

  /** The nearest double (precision may be lost). */
  toNumber(): number {
    const t = this.value.toLowerCase().replace(/^([+-]?)s?nan\d*$/, 'NaN').replace(/inf(inity)?$/, 'Infinity');
    return Number(t);
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }
}
