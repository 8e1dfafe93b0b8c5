/**
 * The type tree of a Python annotation, as the worker describes it (python/snakepit_bridge/typeinfo.py)
 * when the catalogue is asked for types. Feeds the generated TypeScript clients and argument checking.
 */

export interface ObjectField {
  readonly name: string;
  readonly type: TypeNode;
  readonly required: boolean;
}

export type TypeNode =
  | { readonly kind: 'int' | 'float' | 'str' | 'bool' | 'none' | 'bytes' | 'datetime' | 'date' | 'decimal' }
  | { readonly kind: 'unknown'; readonly text?: string }
  | { readonly kind: 'list' | 'set'; readonly item: TypeNode }
  | { readonly kind: 'tuple'; readonly items: readonly TypeNode[] }
  | { readonly kind: 'dict'; readonly key: TypeNode; readonly value: TypeNode }
  | { readonly kind: 'union'; readonly options: readonly TypeNode[] }
  | { readonly kind: 'literal'; readonly values: readonly (string | number | boolean | null)[] }
  | { readonly kind: 'enum'; readonly name: string; readonly values: readonly unknown[] }
  | {
      readonly kind: 'object';
      readonly name: string;
      readonly source: 'typeddict' | 'dataclass' | 'namedtuple' | 'pydantic';
      readonly doc?: string;
      readonly fields: readonly ObjectField[];
    }
  | { readonly kind: 'ref'; readonly name: string }
  | { readonly kind: 'ndarray'; readonly dtype: string | null }
  | { readonly kind: 'iterator'; readonly item: TypeNode; readonly async: boolean };

