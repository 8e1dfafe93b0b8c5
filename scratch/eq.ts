import * as arrow from 'apache-arrow';
import { useArrow, tableToIpcParts, tableToIpc } from '../src/data/arrow.js';
useArrow(arrow);
const t = arrow.tableFromArrays({ a: new Float64Array([1, 2, 3]), s: ['x', null, 'yy'] });
const p = tableToIpcParts(t);
console.log(p.parts.length, Buffer.concat(p.parts).equals(Buffer.from(tableToIpc(t))));
