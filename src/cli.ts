#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { AuthService } from './auth/auth.service.js'
import { Tokens, loadOrCreateSecret } from './auth/tokens.js'
import { ConfigError, loadConfig } from './config.js'
import { AppError } from './errors.js'
import { startServer } from './main.js'
import { openStore } from './store/open-store.js'
import type { Role } from './store/store.js'

const HELP = `swipesavvy-chat: the SwipeSavvy support chat server

Usage:
  swipesavvy-chat [serve]                 start the server (configuration from the environment and .env)
  swipesavvy-chat migrate                 bring the database schema up to date, then exit
  swipesavvy-chat users create --email <email> --password <password> --role <user|agent|admin>
                                          [--full-name <name>]
                                          create an account in the configured database
  swipesavvy-chat --help                  this text

The environment variables are listed in README.md (PORT, DATABASE_URL, REDIS_URL, JWT_SECRET, ...).
`

const ROLES: Role[] = ['user', 'agent', 'admin']

async function run(argv: string[]): Promise<number> {
  loadDotEnv()
  const [command = 'serve', subcommand] = argv
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  if (command === 'serve') {
    await startServer()
    return -1
  }
  if (command === 'migrate') {
    const store = await openStore(loadConfig().database)
    await store.close()
    process.stdout.write('The database schema is up to date.\n')
    return 0
  }
  if (command === 'users' && subcommand === 'create') return createUser(argv.slice(2))
  process.stderr.write(`Unknown command "${argv.join(' ')}".\n\n${HELP}`)
  return 2
}

async function createUser(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      role: { type: 'string', default: 'user' },
      'full-name': { type: 'string' },
    },
  })
  const { email, password, role } = values
  if (email === undefined || password === undefined) {
    process.stderr.write('users create needs --email and --password.\n')
    return 2
  }
  if (!ROLES.includes(role as Role)) {
    process.stderr.write(`--role must be one of ${ROLES.join(', ')}; got "${role}".\n`)
    return 2
  }
  if (password.length < 8 || password.length > 128) {
    process.stderr.write('--password must be 8 to 128 characters long.\n')
    return 2
  }
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
    process.stderr.write(`--email must be an email address; got "${email}".\n`)
    return 2
  }
  const config = loadConfig()
  const store = await openStore(config.database)
  try {
    const secret = loadOrCreateSecret(config.auth.jwtSecret, config.dataDir)
    const tokens = new Tokens({ secret: secret.secret, ttlSeconds: config.auth.tokenTtlSeconds })
    const auth = new AuthService({ store, tokens, auth: config.auth, limits: config.limits })
    const user = await auth.createUser({
      email,
      password,
      role: role as Role,
      full_name: values['full-name'],
    })
    process.stdout.write(`Created ${user.role} ${user.email} (id ${user.id}).\n`)
    return 0
  } finally {
    await store.close()
  }
}

/** `.env` in the working directory, if there is one; the real environment wins. */
function loadDotEnv(): void {
  try {
    process.loadEnvFile('.env')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`)
      process.exitCode = 2
      return
    } else if (error instanceof AppError) {
      process.stderr.write(`${error.detail}\n`)
    } else {
      process.stderr.write(
        `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
    }
    process.exitCode = 1
  },
)
