import { isPostgresReachable } from '../servers/bench-database.js'
import { nginxProblem } from '../servers/nginx.js'
import { pingRedis } from './scale-out.js'

/**
 * Issue 4 asks for one node against three nodes behind nginx, on one machine, in one run. Both
 * rows are our server on PostgreSQL over Redis (a fresh schema and `REDIS_PREFIX` each), driven by
 * the same load generator with the same shape: first the fan-out window, then the saturation
 * search. The one node takes the clients straight; the three sit behind real nginx running the
 * shipped `deploy/nginx.conf`, which sends each session's sockets to the node its id hashes to.
 * The suite runs the rows (`runSteady`, `runSaturation`); this says whether they can run here.
 */

/** Why the rows cannot run on this machine (no nginx, Redis or PostgreSQL), or undefined. */
export async function nginxRowsProblem(
  postgresUrl: string,
  redisUrl: string,
): Promise<string | undefined> {
  const problems = [
    nginxProblem(),
    await pingRedis(redisUrl).then((reason) =>
      reason === undefined ? undefined : `no Redis at ${redisUrl}: ${reason}`,
    ),
    await isPostgresReachable(postgresUrl).then((reason) =>
      reason === undefined ? undefined : `PostgreSQL (which several nodes share): ${reason}`,
    ),
  ].filter((problem) => problem !== undefined)
  return problems.length === 0 ? undefined : problems.join('; ')
}
