'use strict';
// Output file names: characters outside [A-Za-z0-9._-] become '_' ("Identity_1:0" -> "Identity_1_0").
function sanitize(name) {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '' || s === '.' || s === '..' ? `_${s}` : s;
}
module.exports = { sanitize };
