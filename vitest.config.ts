import { defineConfig } from 'vitest/config'

// The same suite runs once per database: SQLite always, PostgreSQL where DATABASE_URL is set (CI).
const databases = ['sqlite', ...(process.env.DATABASE_URL ? ['postgres'] : [])]

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: databases.map((database) => ({
      extends: true,
      test: {
        name: database,
        include: [
          'src/**/*.test.ts',
          'sdk/**/*.test.ts',
          'bench/**/*.test.ts',
          'test/**/*.test.ts',
        ],
        // Several node processes share one database only on PostgreSQL.
        exclude: database === 'sqlite' ? ['test/cluster/**'] : [],
        env: { CHAT_TEST_DATABASE: database },
      },
    })),
  },
})
