// Lint rules: typed, strict, no escape hatches without a reason.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  ...tseslint.configs.strict,
  {
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      curly: ["error", "all"],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
    },
  },
  {
    // Builds and the CLI share host facilities (src/host) with the local provider, never the
    // provider itself: the provider is one implementation behind the platform.
    files: ["src/build/**/*.ts", "src/cli/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/provider/**"], message: "Import host facilities from src/host." },
          ],
        },
      ],
    },
  },
  {
    // src/host sits under everything that uses it, so it imports none of them.
    files: ["src/host/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "**/provider/**",
                "**/build/**",
                "**/cli/**",
                "**/platform/**",
                "**/gateway/**",
                "**/executor/**",
                "**/router/**",
              ],
              message: "src/host is used by the layers above it, not the other way round.",
            },
          ],
        },
      ],
    },
  },
);
