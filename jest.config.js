/** Jest runs every TypeScript test under test/. Engine-backed tests start what they need
 *  through test/support/engines.ts, so `npx jest` works on its own too. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
  // Engine-backed suites share one local stack; running files in sequence keeps a 2-core machine responsive.
  maxWorkers: 1,
};
