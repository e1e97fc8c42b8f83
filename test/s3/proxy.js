// test/s3/proxy.js -- a small HTTP proxy in front of the local S3 server
// (s3rver) for test/s3/run.sh.  It
//   - checks every request's AWS SigV4 signature (s3rver checks only the
//     access key id), with its own key pair: 403 SignatureDoesNotMatch or
//     InvalidAccessKeyId otherwise, and 400 when the body's SHA-256 is not the
//     signed x-amz-content-sha256;
//   - injects faults on command: answer 500 to the next N requests (or all),
//     or die (exit) half-way through the body of the Nth PUT whose key
//     matches a pattern, as a server that crashes mid-upload, or answer
//     every listing with a page of K more objects that says more follow
//     (a listing that never ends, or a prefix flooded with objects);
//   - logs "METHOD key status" per request to a file, never a header.
// Usage: node proxy.js LISTEN_PORT UPSTREAM_PORT LOG_FILE
// Environment: PROXY_KEY_ID, PROXY_SECRET, PROXY_REGION.
// Control (unsigned): GET /__fault?mode=none | mode=fail&status=500&n=3 (n=-1: always)
//                     | mode=die&n=2&match=.rows | mode=stall&n=1 (no answer, ever)
//                     | mode=endless&keys=5000 (listings: pages of 5000 keys, never the last)
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const [listenPort, upstreamPort, logFile] = process.argv.slice(2);
const KEY_ID = process.env.PROXY_KEY_ID;
const SECRET = process.env.PROXY_SECRET;
const REGION = process.env.PROXY_REGION;
let fault = { mode: 'none' };

function log(line) {
  fs.appendFileSync(logFile, line + '\n');
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data).digest();
}

function sha256hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

// RFC 3986 encoding as S3 canonicalises: unreserved characters stay
function encode(s, keepSlash) {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function s3error(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

// the signature the request should carry, or an error text
function verify(req, rawPath, rawQuery, body) {
  const auth = req.headers['authorization'] || '';
  const m = auth.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/);
  if (!m) return [400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.'];
  const [, keyId, date, region, signedHeaders, signature] = m;
  if (keyId !== KEY_ID)
    return [403, 'InvalidAccessKeyId', `The AWS Access Key Id you provided (${keyId}) does not exist in our records.`];
  if (region !== REGION)
    return [400, 'AuthorizationHeaderMalformed', `The region '${region}' is wrong; expecting '${REGION}'.`];
  const amzDate = req.headers['x-amz-date'] || '';
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (!payloadHash) return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
  if (!signedHeaders.split(';').includes('x-amz-content-sha256') || !signedHeaders.split(';').includes('host'))
    return [403, 'AccessDenied', 'host and x-amz-content-sha256 must be signed'];
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256hex(body))
    return [400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."];
  const canonPath = rawPath.split('/').map(seg => encode(decodeURIComponent(seg), false)).join('/');
  const canonQuery = rawQuery === '' ? '' : rawQuery.split('&').map(p => {
    const i = p.indexOf('=');
    const k = decodeURIComponent(i < 0 ? p : p.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1));
    return [encode(k, false), encode(v, false)];
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => k + '=' + v).join('&');
  const canonHeaders = signedHeaders.split(';')
    .map(h => h + ':' + String(req.headers[h] || '').trim().replace(/\s+/g, ' ') + '\n').join('');
  const canonical = [req.method, canonPath, canonQuery, canonHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + SECRET, date), region), 's3'), 'aws4_request');
  const expected = hmac(key, toSign).toString('hex');
  if (expected !== signature)
    return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
  return null;
}

const server = http.createServer((req, res) => {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);

  if (rawPath === '/__fault') {
    const p = new URLSearchParams(rawQuery);
    fault = { mode: p.get('mode') || 'none', status: Number(p.get('status') || 500),
              n: Number(p.get('n') || 1), match: p.get('match') || '', keys: Number(p.get('keys') || 1000),
              pages: 0 };
    log(`FAULT ${rawQuery}`);
    res.end('ok\n');
    return;
  }

  const length = Number(req.headers['content-length'] || 0);
  const dies = fault.mode === 'die' && req.method === 'PUT' && rawPath.includes(fault.match);
  if (dies && fault.n > 1) fault.n--;
  else if (dies) {
    // the server dies once half the body is in: the client sees the
    // connection drop mid-upload, and nobody answers after it
    let got = 0;
    log(`${req.method} ${rawPath} DIES`);
    req.on('data', chunk => {
      got += chunk.length;
      if (got >= length / 2) process.exit(3);
    });
    req.on('end', () => process.exit(3));
    return;
  }

  if (fault.mode === 'stall' && fault.n !== 0) {
    // a server that takes the request and never answers
    if (fault.n > 0) fault.n--;
    log(`${req.method} ${rawPath} STALLS`);
    req.resume();
    return;
  }

  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (fault.mode === 'fail' && fault.n !== 0) {
      if (fault.n > 0) fault.n--;
      log(`${req.method} ${rawPath} ${fault.status} injected`);
      s3error(res, fault.status, fault.status === 503 ? 'SlowDown' : 'InternalError',
              'We encountered an internal error. Please try again.');
      return;
    }
    const bad = verify(req, rawPath, rawQuery, body);
    if (bad) {
      log(`${req.method} ${rawPath} ${bad[0]} ${bad[1]}`);
      s3error(res, bad[0], bad[1], bad[2]);
      return;
    }
    const params = new URLSearchParams(rawQuery);
    if (fault.mode === 'endless' && req.method === 'GET' && params.get('list-type') === '2') {
      // a page of keys named like a checkpoint's files, and more to come
      const prefix = params.get('prefix') || '';
      const page = fault.pages++;
      let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><IsTruncated>true</IsTruncated>';
      for (let i = 0; i < fault.keys; i++) {
        const seq = String(page * fault.keys + i + 1).padStart(8, '0');
        xml += `<Contents><Key>${prefix}${seq}-0001.rows</Key><Size>100</Size></Contents>`;
      }
      xml += `<NextContinuationToken>page-${page + 1}</NextContinuationToken></ListBucketResult>`;
      if (page % 50 === 0) log(`${req.method} ${rawPath} endless page ${page}`);
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      res.end(xml);
      return;
    }
    const headers = Object.assign({}, req.headers);
    // s3rver knows its own key only (and checks no V4 signature)
    headers['authorization'] = headers['authorization'].replace(/Credential=[^/]+\//, 'Credential=S3RVER/');
    headers['host'] = `127.0.0.1:${upstreamPort}`;
    delete headers['expect'];
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers },
      ures => {
        log(`${req.method} ${rawPath}${rawQuery ? '?' + rawQuery : ''} ${ures.statusCode}`);
        res.writeHead(ures.statusCode, ures.headers);
        ures.pipe(res);
      });
    up.on('error', e => { log(`${req.method} ${rawPath} 502 ${e.code}`); s3error(res, 502, 'BadGateway', 'upstream failed'); });
    up.end(body);
  });
});
server.listen(Number(listenPort), '127.0.0.1', () => log(`LISTEN ${server.address().port}`));
