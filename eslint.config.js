import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The staff console and the customer screen: plain scripts run by the browser (window PC, kiosk, tablet).
    files: ['bridge/console/**/*.js', 'bridge/screen/page/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        ['window', 'document', 'fetch', 'EventSource', 'sessionStorage', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'console'].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    // The `hcp` launcher: plain JavaScript run by Node.
    files: ['bin/**/*.js'],
    languageOptions: { globals: Object.fromEntries(['URL', 'console', 'process'].map((name) => [name, 'readonly'])) },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
);
