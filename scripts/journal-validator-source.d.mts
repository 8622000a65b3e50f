// Types of journal-validator-source.mjs, for the unit test that imports it.
export declare function generateJournalValidatorSource(schema: unknown): string;
