// The `http.listen` address format, "host:port" or "[v6]:port". A module of its
// own, free of zod: the plan builder needs it on the run path of every mode, and
// importing it from schema.ts would evaluate zod in single-command mode too.

/** "host:port" or "[v6]:port" → parts; undefined when malformed. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
