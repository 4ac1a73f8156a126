// The nginx harness lives with the bench, which measures the same deployment the tests check;
// the bench must not import test code, so the tests import it from there.
export { freePort, startNginx, waitForHttp, type Nginx } from '../../bench/servers/nginx.js'
