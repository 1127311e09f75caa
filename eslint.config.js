// Lint rules: typed, strict, no escape hatches without a reason.
import js from "@eslint/js";
import globals from "globals";
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
    // Plain JavaScript (the runtime servers, scripts, the CLI's entry) has no compiler to catch
    // an undefined name, so eslint does: a name declared in another module once crashed a
    // runtime on SIGTERM (issue 14).
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    languageOptions: { globals: globals.node },
    rules: {
      ...js.configs.recommended.rules,
      "no-undef": "error",
      // @typescript-eslint/no-unused-vars (above) covers it, with the same options as for TS.
      "no-unused-vars": "off",
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
