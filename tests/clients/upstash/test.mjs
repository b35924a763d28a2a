// The real @upstash/redis and @upstash/ratelimit clients against cxproxy's Upstash REST
// protocol (README "Using existing clients"). Run by tests/integration/upstash_client_test.cpp,
// which starts Redis (a primary and two replicas) and cxproxy and sets:
//   CXPROXY_URL         the data listener, http://127.0.0.1:PORT
//   UPSTASH_CLIENT_DIR  where package.json's dependencies were installed (npm ci)
//   CXPROXY_PHASE       "main": commands, batches, scripts, limiters, bad input
//                       "lag":  both replicas hold their writes (CLIENT PAUSE WRITE);
//                               key ryw holds "old" everywhere before the phase starts
// node:test only; exits non-zero when a test fails.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import test from "node:test";

const url = process.env.CXPROXY_URL;
const phase = process.env.CXPROXY_PHASE ?? "main";
const require = createRequire(path.join(process.env.UPSTASH_CLIENT_DIR, "package.json"));
const { Redis } = require("@upstash/redis");
const { Ratelimit } = require("@upstash/ratelimit");

// The token is not checked until cxproxy's auth is configured; the client insists on one.
const options = { url, token: "unused", enableTelemetry: false, retry: false };
const client = (extra = {}) => new Redis({ ...options, ...extra });

// Keys of this run, so a rerun against the same Redis starts clean.
const run = `run-${Date.now().toString(36)}`;

// Raw protocol requests, for what the client cannot send (headers, bad bodies).
async function raw(pathname, body, headers = {}) {
  const response = await fetch(url + pathname, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

if (phase === "main") {
  // Both ways the client sends commands: auto-pipelining (the default: POST /pipeline)
  // and one request per command (POST /).
  for (const [name, redis] of [
    ["auto-pipelined", client()],
    ["one request per command", client({ enableAutoPipelining: false })],
  ]) {
    const p = `${run}:${name.replace(/ /g, "-")}:`;

    test(`strings (${name})`, async () => {
      assert.equal(await redis.set(`${p}s`, "hello"), "OK");
      assert.equal(await redis.get(`${p}s`), "hello");
      assert.equal(await redis.append(`${p}s`, " world"), 11);
      assert.equal(await redis.strlen(`${p}s`), 11);
      assert.equal(await redis.getrange(`${p}s`, 0, 4), "hello");
      assert.equal(await redis.setrange(`${p}s`, 6, "there"), 11);
      assert.equal(await redis.get(`${p}s`), "hello there");
      assert.equal(await redis.set(`${p}n`, 10), "OK");
      assert.equal(await redis.incr(`${p}n`), 11);
      assert.equal(await redis.incrby(`${p}n`, 5), 16);
      assert.equal(await redis.decr(`${p}n`), 15);
      assert.equal(await redis.decrby(`${p}n`, 5), 10);
      assert.equal(await redis.incrbyfloat(`${p}n`, 1.5), 11.5);
      assert.equal(await redis.setnx(`${p}s`, "x"), 0);
      assert.equal(await redis.mset({ [`${p}m1`]: "a", [`${p}m2`]: "b" }), "OK");
      assert.deepEqual(await redis.mget(`${p}m1`, `${p}m2`, `${p}missing`), ["a", "b", null]);
      assert.equal(await redis.getdel(`${p}m1`), "a");
      assert.equal(await redis.exists(`${p}m1`, `${p}m2`), 1);
      assert.equal(await redis.type(`${p}m2`), "string");
      assert.equal(await redis.del(`${p}m2`, `${p}s`), 2);
      assert.equal(await redis.get(`${p}s`), null);
      // JSON values round-trip through the client's own (de)serialisation.
      assert.equal(await redis.set(`${p}json`, { a: 1, b: [true, null] }), "OK");
      assert.deepEqual(await redis.get(`${p}json`), { a: 1, b: [true, null] });
    });

    test(`binary-safe values: NUL bytes and non-ASCII text (${name})`, async () => {
      const raw = client({ automaticDeserialization: false, enableAutoPipelining: name === "auto-pipelined" });
      const values = ["a\u0000b\u0000", "日本語 ✓ café 😀", "\u0000", "line\nbreak \"quoted\" \\", ""];
      for (const [i, value] of values.entries()) {
        assert.equal(await raw.set(`${p}bin:${i}`, value), "OK");
        assert.equal(await raw.get(`${p}bin:${i}`), value);
        assert.equal(await raw.strlen(`${p}bin:${i}`), Buffer.byteLength(value));
      }
      // Keys too.
      assert.equal(await raw.set(`${p}ключ\u0000/🔑`, "v"), "OK");
      assert.equal(await raw.get(`${p}ключ\u0000/🔑`), "v");
      assert.deepEqual(await raw.hset(`${p}binh`, { "f\u0000": "v\u0000é" }), 1);
      // Without deserialisation the client hands over Redis's flat field/value list.
      assert.deepEqual(await raw.hgetall(`${p}binh`), ["f\u0000", "v\u0000é"]);
    });

    test(`hashes (${name})`, async () => {
      assert.equal(await redis.hset(`${p}h`, { a: "1", b: "two" }), 2);
      assert.equal(await redis.hget(`${p}h`, "b"), "two");
      assert.deepEqual(await redis.hgetall(`${p}h`), { a: 1, b: "two" });
      assert.deepEqual(await redis.hmget(`${p}h`, "a", "b", "c"), { a: 1, b: "two", c: null });
      assert.equal(await redis.hincrby(`${p}h`, "a", 4), 5);
      assert.equal(await redis.hexists(`${p}h`, "a"), 1);
      assert.equal(await redis.hlen(`${p}h`), 2);
      assert.deepEqual((await redis.hkeys(`${p}h`)).sort(), ["a", "b"]);
      assert.deepEqual((await redis.hvals(`${p}h`)).map(String).sort(), ["5", "two"]);
      assert.equal(await redis.hsetnx(`${p}h`, "a", "x"), 0);
      assert.equal(await redis.hdel(`${p}h`, "a"), 1);
      const [cursor, fields] = await redis.hscan(`${p}h`, 0);
      assert.equal(String(cursor), "0");
      assert.deepEqual(fields, ["b", "two"]);
    });

    test(`lists (${name})`, async () => {
      assert.equal(await redis.rpush(`${p}l`, "a", "b", "c"), 3);
      assert.equal(await redis.lpush(`${p}l`, "z"), 4);
      assert.deepEqual(await redis.lrange(`${p}l`, 0, -1), ["z", "a", "b", "c"]);
      assert.equal(await redis.llen(`${p}l`), 4);
      assert.equal(await redis.lindex(`${p}l`, 1), "a");
      assert.equal(await redis.lset(`${p}l`, 1, "A"), "OK");
      assert.equal(await redis.lpop(`${p}l`), "z");
      assert.equal(await redis.rpop(`${p}l`), "c");
      assert.equal(await redis.rpush(`${p}l`, "A", "x"), 4);
      assert.equal(await redis.lrem(`${p}l`, 0, "A"), 2);
      assert.equal(await redis.ltrim(`${p}l`, 0, 0), "OK");
      assert.deepEqual(await redis.lrange(`${p}l`, 0, -1), ["b"]);
    });

    test(`sets (${name})`, async () => {
      assert.equal(await redis.sadd(`${p}set1`, "a", "b", "c"), 3);
      assert.equal(await redis.sadd(`${p}set2`, "b", "c", "d"), 3);
      assert.deepEqual((await redis.smembers(`${p}set1`)).sort(), ["a", "b", "c"]);
      assert.equal(await redis.sismember(`${p}set1`, "a"), 1);
      assert.equal(await redis.scard(`${p}set1`), 3);
      assert.deepEqual((await redis.sinter(`${p}set1`, `${p}set2`)).sort(), ["b", "c"]);
      assert.deepEqual((await redis.sunion(`${p}set1`, `${p}set2`)).sort(), ["a", "b", "c", "d"]);
      assert.deepEqual((await redis.sdiff(`${p}set1`, `${p}set2`)).sort(), ["a"]);
      assert.equal(await redis.srem(`${p}set1`, "a"), 1);
      const [cursor, members] = await redis.sscan(`${p}set1`, 0);
      assert.equal(String(cursor), "0");
      assert.deepEqual(members.sort(), ["b", "c"]);
    });

    test(`sorted sets (${name})`, async () => {
      assert.equal(await redis.zadd(`${p}z`, { score: 1, member: "one" }, { score: 2.5, member: "two" }), 2);
      assert.equal(await redis.zadd(`${p}z`, { score: 3, member: "three" }), 1);
      assert.deepEqual(await redis.zrange(`${p}z`, 0, -1), ["one", "two", "three"]);
      assert.deepEqual(await redis.zrange(`${p}z`, 0, 0, { withScores: true }), ["one", 1]);
      assert.deepEqual(await redis.zrange(`${p}z`, 0, 0, { rev: true }), ["three"]);
      assert.equal(await redis.zscore(`${p}z`, "two"), 2.5);
      assert.equal(await redis.zincrby(`${p}z`, 10, "one"), 11);
      assert.equal(await redis.zrank(`${p}z`, "one"), 2);
      assert.equal(await redis.zcard(`${p}z`), 3);
      assert.equal(await redis.zcount(`${p}z`, 2, 5), 2);
      assert.equal(await redis.zrem(`${p}z`, "two"), 1);
      const [cursor, members] = await redis.zscan(`${p}z`, 0);
      assert.equal(String(cursor), "0");
      assert.deepEqual(members, ["three", 3, "one", 11]);
    });

    test(`expiry (${name})`, async () => {
      assert.equal(await redis.set(`${p}e`, "v", { ex: 100 }), "OK");
      const ttl = await redis.ttl(`${p}e`);
      assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
      assert.equal(await redis.pexpire(`${p}e`, 50000), 1);
      const pttl = await redis.pttl(`${p}e`);
      assert.ok(pttl > 40000 && pttl <= 50000, `pttl ${pttl}`);
      assert.equal(await redis.persist(`${p}e`), 1);
      assert.equal(await redis.ttl(`${p}e`), -1);
      assert.equal(await redis.expire(`${p}e`, 1), 1);
      assert.equal(await redis.set(`${p}px`, "v", { px: 1 }), "OK");
      for (let i = 0; i < 200 && (await redis.exists(`${p}px`)) === 1; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(await redis.get(`${p}px`), null);
    });

    test(`scripts (${name})`, async () => {
      const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])";
      assert.equal(await redis.eval(script, [`${p}lua`], ["from-lua"]), "from-lua");
      const sha = await redis.scriptLoad("return {KEYS[1], ARGV[1], 42}");
      assert.match(sha, /^[0-9a-f]{40}$/);
      assert.deepEqual(await redis.scriptExists(sha), [1]);
      assert.deepEqual(await redis.evalsha(sha, [`${p}k`], ["arg"]), [`${p}k`, "arg", 42]);
      assert.equal(await redis.evalRo("return redis.call('GET', KEYS[1])", [`${p}lua`], []), "from-lua");
      // A script with Upstash's own shebang flag, which Redis 7.0 alone refuses.
      const flagged = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])";
      assert.equal(await redis.eval(flagged, [`${p}flagged`], []), 1);
      // The client's Script helper: EVALSHA of the text it wrote (NOSCRIPT at first, then EVAL).
      const helper = redis.createScript(flagged);
      assert.equal(await helper.exec([`${p}flagged`], []), 2);
      assert.equal(await helper.exec([`${p}flagged`], []), 3);
      await assert.rejects(redis.evalsha("0".repeat(40), [], []), /NOSCRIPT/);
      await assert.rejects(redis.eval("return redis.call('NOSUCH')", [], []), /Unknown Redis command|ERR/);
    });

    test(`cursors: SCAN is served by the primary (${name})`, async () => {
      await redis.set(`${p}scan:1`, "v");
      let cursor = "0";
      const found = [];
      do {
        const [next, keys] = await redis.scan(cursor, { match: `${p}scan:*`, count: 100 });
        cursor = String(next);
        found.push(...keys);
      } while (cursor !== "0");
      assert.deepEqual(found, [`${p}scan:1`]);
    });
  }

  const redis = client();

  test("pipeline(): in order, reads its own writes, errors in their place", async () => {
    const results = await redis
      .pipeline()
      .set(`${run}:pipe:a`, "1")
      .incr(`${run}:pipe:a`)
      .get(`${run}:pipe:a`)
      .hset(`${run}:pipe:h`, { f: "v" })
      .hgetall(`${run}:pipe:h`)
      .exec();
    assert.deepEqual(results, ["OK", 2, 2, 1, { f: "v" }]);

    const kept = await redis.pipeline().set(`${run}:pipe:s`, "text").incr(`${run}:pipe:s`).get(`${run}:pipe:s`).exec({ keepErrors: true });
    assert.equal(kept[0].result, "OK");
    assert.match(kept[1].error, /ERR value is not an integer/);
    assert.equal(kept[2].result, "text");
    await assert.rejects(redis.pipeline().incr(`${run}:pipe:s`).get(`${run}:pipe:s`).exec(), /Command 1 \[ incr \] failed/);
  });

  test("multi(): atomic, results in order", async () => {
    const results = await redis.multi().set(`${run}:tx:a`, "1").incr(`${run}:tx:a`).get(`${run}:tx:a`).exec();
    assert.deepEqual(results, ["OK", 2, 2]);
    // A runtime error inside EXEC stays in its place; the other commands applied.
    const kept = await redis.multi().set(`${run}:tx:s`, "x").incr(`${run}:tx:s`).get(`${run}:tx:s`).exec({ keepErrors: true });
    assert.equal(kept[0].result, "OK");
    assert.match(kept[1].error, /not an integer/);
    assert.equal(kept[2].result, "x");
  });

  test("a concurrent strong reader never sees half of a multi of two SETs", async () => {
    // atomic:* is strong in the test's rules: MGET reads both keys on the primary at once.
    // The pad between the two SETs makes the transaction's bytes span several reads on
    // Redis's side, so without MULTI another client could run between the SETs.
    const pad = "p".repeat(64 * 1024);
    await redis.mset({ "atomic:x": "0", "atomic:y": "0" });
    let stop = false;
    let reads = 0;
    const reader = (async () => {
      const strongReader = client({ enableAutoPipelining: false, readYourWrites: false });
      while (!stop) {
        const [x, y] = await strongReader.mget("atomic:x", "atomic:y");
        assert.equal(x, y, `saw half a transaction: x=${x} y=${y}`);
        reads++;
      }
    })();
    const writer = client({ enableAutoPipelining: false });
    for (let i = 1; i <= 150; i++) {
      await writer.multi().set("atomic:x", i).set("atomic:pad", pad).set("atomic:y", i).exec();
    }
    stop = true;
    await reader;
    assert.ok(reads > 0);
    assert.deepEqual(await redis.mget("atomic:x", "atomic:y"), [150, 150]);
  });

  // Windows far longer than the test, so no window boundary passes between calls.
  for (const [name, limiter] of [
    ["fixed window", Ratelimit.fixedWindow(3, "1 h")],
    ["sliding window", Ratelimit.slidingWindow(3, "1 h")],
    ["token bucket", Ratelimit.tokenBucket(1, "1 h", 3)],
  ]) {
    test(`ratelimit ${name}: 3 allowed, then denied`, async () => {
      const ratelimit = new Ratelimit({
        redis,
        limiter,
        prefix: `${run}:rl:${name.replace(/ /g, "-")}`,
        analytics: false,
        ephemeralCache: false,
      });
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push((await ratelimit.limit("user-1")).success);
      assert.deepEqual(decisions, [true, true, true, false, false]);
      assert.equal((await ratelimit.limit("user-2")).success, true, "another identifier has its own budget");
      assert.equal((await ratelimit.getRemaining("user-1")).remaining, 0);
    });
  }

  test("bad input gets clear errors in Upstash's shape, and nothing changes", async () => {
    const notArray = await raw("/", { command: "GET" });
    assert.equal(notArray.status, 400);
    assert.match(notArray.json.error, /non-empty JSON array/);

    const nested = await raw("/pipeline", [["SET", `${run}:bad:n`, ["nested"]]]);
    assert.equal(nested.status, 400);
    assert.match(nested.json.error, /element 2 of command 1 of the batch is an array/);

    const notJson = await raw("/pipeline", "[[\"GET\"");
    assert.equal(notJson.status, 400);
    assert.match(notJson.json.error, /not valid JSON/);

    const tooMany = await raw("/pipeline", Array.from({ length: 101 }, (_, i) => ["SET", `${run}:bad:many:${i}`, "v"]));
    assert.equal(tooMany.status, 413);
    assert.match(tooMany.json.error, /101 commands; the limit is 100/);

    const refused = await raw("/pipeline", [["SET", `${run}:bad:refused`, "v"], ["FLUSHALL"], ["GET", `${run}:bad:refused`]]);
    assert.equal(refused.status, 403);
    assert.match(refused.json.error, /command 2 of the batch: 'FLUSHALL' is not allowed/);
    const inMulti = await raw("/multi-exec", [["SET", `${run}:bad:refused`, "v"], ["CONFIG", "GET", "x"]]);
    assert.equal(inMulti.status, 403);

    const unknownCommand = await raw("/nosuchcommand/x", "");
    assert.equal(unknownCommand.status, 400);
    assert.match(unknownCommand.json.error, /unknown command 'NOSUCHCOMMAND'/);

    const unknownPath = await raw("/v1/nosuch", "");
    assert.equal(unknownPath.status, 404);

    const arity = await raw("/", ["HGET", `${run}:bad:only-one-arg`]);
    assert.equal(arity.status, 400);
    assert.match(arity.json.error, /wrong number of arguments/);
    const redisError = await raw("/", ["INCR", `${run}:tx:s`]);
    assert.equal(redisError.status, 400);
    assert.deepEqual(redisError.json, { error: "ERR value is not an integer or out of range" });

    await assert.rejects(client().incr(`${run}:tx:s`), /ERR value is not an integer/);
    for (const key of [`${run}:bad:n`, `${run}:bad:many:0`, `${run}:bad:many:100`, `${run}:bad:refused`]) {
      assert.equal(await redis.exists(key), 0, `${key} was written by a refused request`);
    }
  });

  test("path-style commands and both encodings", async () => {
    const set = await fetch(`${url}/set/path:k`, { method: "POST", body: "v a\u0000l" });
    assert.equal(set.status, 200);
    assert.deepEqual(await set.json(), { result: "OK" });
    const get = await fetch(`${url}/get/path:k`);
    assert.deepEqual(await get.json(), { result: "v a\u0000l" });
    const encoded = await fetch(`${url}/get/path%3Ak`, { headers: { "Upstash-Encoding": "base64" } });
    assert.deepEqual(await encoded.json(), { result: Buffer.from("v a\u0000l").toString("base64") });
    const withQuery = await fetch(`${url}/set/path:q/v?EX=100`);
    assert.deepEqual(await withQuery.json(), { result: "OK" });
    assert.ok((await redis.ttl("path:q")) > 0);
  });

  test("every response carries upstash-sync-token; one that does not verify is ignored", async () => {
    const write = await raw("/", ["SET", `${run}:tok:a`, "1"]);
    const token = write.headers.get("upstash-sync-token");
    assert.ok(token, "a write returns a token");
    const read = await raw("/", ["GET", `${run}:tok:a`], { "upstash-sync-token": token });
    assert.equal(read.status, 200);
    assert.equal(read.json.result, "1");
    assert.ok(read.headers.get("upstash-sync-token"), "a session read hands the session's token on");
    const strong = { "X-Consistency": "strong" };
    const garbage = await raw("/", ["GET", `${run}:tok:a`], { ...strong, "upstash-sync-token": "not-a-token" });
    assert.equal(garbage.status, 200);
    assert.equal(garbage.json.result, "1");
    const empty = await raw("/", ["GET", `${run}:tok:a`], { ...strong, "upstash-sync-token": "" });
    assert.equal(empty.status, 200);
    assert.equal(empty.json.result, "1");
    assert.notEqual(empty.headers.get("upstash-sync-token"), null);
    // On the native API the same garbage is refused.
    const native = await raw("/v1/cmd", ["GET", `${run}:tok:a`], { "X-Session-Token": "not-a-token" });
    assert.equal(native.status, 400);
    assert.equal(native.json.error, "invalid_session_token");
  });
}

if (phase === "lag") {
  test("readYourWrites sees its own write while an eventual read still sees the old value", async () => {
    const writer = client();
    assert.equal(await writer.get("ryw"), "old");
    assert.equal(await writer.set("ryw", "new"), "OK");
    for (let i = 0; i < 20; i++) assert.equal(await writer.get("ryw"), "new");

    // Without a token (readYourWrites off) the session level has nothing to wait for: a
    // replica serves it, and the replicas still hold the old value.
    const noSession = client({ readYourWrites: false });
    assert.equal(await noSession.get("ryw"), "old");
    const eventual = await raw("/", ["GET", "ryw"], { "X-Consistency": "eventual" });
    assert.equal(eventual.headers.get("x-served-role"), "replica");
    assert.equal(eventual.json.result, "old");

    // A token handed to another client instance carries the write with it.
    const other = client();
    other.readYourWritesSyncToken = writer.readYourWritesSyncToken;
    assert.equal(await other.get("ryw"), "new");
    const fresh = client();
    assert.equal(await fresh.get("ryw"), "old", "a client with no token is served by a lagging replica");
  });

  test("a pipeline's token covers the whole batch", async () => {
    const redis = client();
    const [, , value] = await redis.pipeline().set("ryw:p1", "1").set("ryw:p2", "2").get("ryw:p1").exec();
    assert.equal(value, 1);
    assert.deepEqual(await redis.mget("ryw:p1", "ryw:p2"), [1, 2]);
    const other = client();
    other.readYourWritesSyncToken = redis.readYourWritesSyncToken;
    assert.deepEqual(await other.mget("ryw:p1", "ryw:p2"), [1, 2]);
  });
}
