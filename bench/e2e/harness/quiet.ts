// Imported first by bench processes: depthcast logs at 'warn' unless LOG_LEVEL
// says otherwise (src/util/log.ts reads it once, when first imported).
process.env.LOG_LEVEL ??= 'warn';
