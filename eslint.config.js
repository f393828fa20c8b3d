// @ts-check
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const tests = ['src/**/*.test.ts', 'src/test-support/**', 'src/store/store-contract.ts', 'test/**/*.ts']

export default defineConfig(
  { ignores: ['dist/', 'bench/results/', 'docs/', 'data/', 'test-artifacts/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // tsconfig.check.json, not tsconfig.json: it is the one that includes test/ and bench/ as well as src/,
      // so every .ts file is linted with its types.
      parserOptions: { project: ['./tsconfig.check.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unnecessary-condition': 'error',
      // `const { samples: _samples, ...rest } = …` is how an object loses a field.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Passing on a caught error (typed unknown) is how a callback-style failure reaches a promise.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // A CommonJS entry point (src/cli/cinepass.cts) cannot use `import … from`; `import x = require()` is its
    // typed import.
    files: ['**/*.cts'],
    rules: { '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }] },
  },
  {
    // Tests read HTTP response bodies, JSON files and database rows as `any` on purpose: the assertion
    // (toEqual, toMatchObject, a schema) is the check, and a type for every body would only restate it.
    files: tests,
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (the benchmark's standalone servers, this file): no types to check, and Node's globals.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
)
