// Lint of the sidebar's TypeScript (`make lint`): ESLint's and typescript-eslint's recommended
// rules; formatting is Prettier's (.prettierrc), checked apart.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off', // the REST client parses JSON it then types
      eqeqeq: 'error',
      curly: 'error',
      'prefer-const': 'error'
    }
  }
);
