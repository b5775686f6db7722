/** The nginx binary Debian installs, or undefined where nginx is absent. */
export declare const NGINX: string | undefined;

/** Starts nginx serving `root` on 127.0.0.1; `stop` ends it and removes its configuration and logs. */
export declare function startNginx(root: string): Promise<{ url: string; stop: () => Promise<void> }>;
