/** The part of s3rver's API the test server uses (the package ships no types). */
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  export default class S3rver {
    constructor(options: { directory: string; silent?: boolean; vhostBuckets?: boolean });
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
