// The TLS app (wss://, https://) for --tls-cert-path/--tls-key-path: the files
// are checked first, because uWS reports any certificate problem only as "App
// construction failed". Cost: once at start-up.
import { accessSync, constants as fs_constants } from 'node:fs';
import uWS from './uws.js';

/** uWS reports any certificate problem as "App construction failed": check the files first so the error says which. */
export function ssl_app(cert_path: string, key_path: string): ReturnType<typeof uWS.SSLApp> {
  for (const [what, path] of [['--tls-cert-path', cert_path], ['--tls-key-path', key_path]] as const) {
    try {
      accessSync(path, fs_constants.R_OK);
    } catch (err) {
      throw new Error(`${what} ${path}: not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
  }
  try {
    return uWS.SSLApp({ cert_file_name: cert_path, key_file_name: key_path });
  } catch (err) {
    // uWS says only "App construction failed".
    throw new Error(`TLS: cannot load --tls-cert-path ${cert_path} with --tls-key-path ${key_path}: not PEM, key not matching the certificate, or key encrypted`, { cause: err });
  }
}
