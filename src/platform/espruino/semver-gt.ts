/** semver's `gt`, for the Espruino build's alias of `semver/functions/gt.js`. */
export { gt as default } from './semver.js';
