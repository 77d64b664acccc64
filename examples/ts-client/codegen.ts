import type { CodegenConfig } from '@graphql-codegen/cli';

// Generates src/gql/ (gitignored; `npm run codegen` or the Go test
// TestTSClientTypecheck makes it) from the server's schema and the example
// operations. Every operation is validated against the schema, so an
// operation that selects an unknown field, or passes a wrong argument, fails
// here; src/client.ts is then type-checked against the generated types.
const config: CodegenConfig = {
  schema: '../../schema.graphqls',
  documents: ['../operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: {
        // Fragments (SessionFields, SessionLifetime) are spread into plain
        // result types instead of masked behind useFragment().
        fragmentMasking: false,
        // Trusted documents: every operation gets __meta__.hash (the SHA-256
        // of its normalised text), and src/gql/persisted-documents.json maps
        // hash → document. ../ts-client/persisted-documents.json is that
        // manifest, committed for the server's GRAPHQL_TRUSTED_DOCUMENTS;
        // TestTSClientTypecheck fails when the two differ.
        persistedDocuments: { hashAlgorithm: 'sha256' },
      },
      config: {
        // The wire formats of the custom scalars (graph/scalar/scalar.go).
        // strictScalars makes a scalar added to the schema without a mapping
        // here a codegen error instead of a silent `any`.
        strictScalars: true,
        scalars: {
          // RFC 3339 in UTC with exactly three fractional digits,
          // e.g. "2025-08-20T12:34:56.789Z"; inputs accept any RFC 3339 offset.
          Time: { input: 'string', output: 'string' },
          // A JSON object (never an array or a primitive), at most 10240 bytes.
          JSON: {
            input: 'Record<string, unknown>',
            output: 'Record<string, unknown>',
          },
        },
        // A nullable field is always present in a response (as null), so
        // results type it `T | null` rather than optional; inputs stay optional.
        avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
        enumsAsTypes: true,
        useTypeImports: true,
        // ESM under "module": "NodeNext": relative imports need the extension.
        importExtension: '.js',
      },
    },
  },
};

export default config;
