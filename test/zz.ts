import { testBucket } from './helpers/s3.ts';
const b = await testBucket();
try { console.log(await b.openUploads()); } catch (e) { console.log('ERR', (e as Error).message); }
console.log((await b.requests()).join('\n'));
