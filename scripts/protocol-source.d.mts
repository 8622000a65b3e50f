// Types of protocol-source.mjs, for the unit tests that import it.
export declare const PROTOCOL_SCHEMA: string;
export declare const TYPES_FILE: string;
export declare const VALIDATOR_FILE: string;
export declare function generateTypesSource(schema: unknown): Promise<string>;
export declare function generateReplyValidatorSource(schema: unknown): string;
