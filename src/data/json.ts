/**
 * JSON for results: `JSON.stringify` throws on a bigint, and results carry bigints (integers past
 * 2^53, int64 columns and arrays). NDArray has a toJSON(); for everything else pass this replacer.
 */

/** A `JSON.stringify` replacer: bigints become numbers when they are safe integers, decimal strings otherwise. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value.toString();
  }
  return value;
}
