#!/usr/bin/env node
// Element-family test client: matrix-js-sdk with its Rust crypto, in Element's default
// "exclude insecure devices" mode (OnlySignedDevicesIsolationMode). Used by the Python test
// suite to prove that the bots interoperate with Element's crypto stack.
//
// Usage:  node element_client.mjs '<json>'   |   node element_client.mjs config.json
//         node element_client.mjs - < config.json   (or no argument: config on stdin)
//
// Input JSON:
//   homeserver   base URL, e.g. "http://127.0.0.1:8448"                     (required)
//   user_id      full MXID of the account to log in as                      (required)
//   password     its password (login and UIA for the cross-signing upload)  (required)
//   room_id      room to join (an invite is accepted) and talk in            (required)
//   bot_user_id  MXID whose replies are awaited                               (required)
//   commands     list of strings, each sent as an encrypted m.text           (required)
//   expect       list of substrings, one per command, required in the reply  (required)
//   timeout_s    budget for the whole run, login to exit (default 60)
//   logout       log the device out at the end (default true)
//   device_name  display name of the new device (default "liaison-element-client")
//   log_level    "silent" | "error" | "warn" (default) | "info" | "debug"; logs go to stderr
//
// Output: exactly one JSON line on stdout; exit 0 iff result.ok (errors is empty). Keys:
//   ok, errors[], user_id, device_id (the new device), room_id, bot_user_id,
//   bot_device_id, bot_device_signed_by_owner, bot_device_verification{...}, bot_devices[],
//   own_device_signed_by_owner, cross_signing_ready, isolation_mode, sdk_version,
//   crypto_version, replies[] (one per command, in order), other_bot_events[], timings_s{},
//   elapsed_s.
//   Each reply: command, expected, skipped, command_event_id, event_id, body, msgtype,
//   encrypted, decrypted, decryption_failure_reason, in_reply_to, contains_expected,
//   sender_device_id, sender_device_verified_info{signed_by_owner, cross_signing_verified,
//   local_verified, tofu, is_verified}, shield_colour ("NONE"|"GREY"|"RED"), shield_reason
//   (EventShieldReason name or null), encryption_info{shieldColour, shieldReason} (raw numbers
//   from getCrypto().getEncryptionInfoForEvent).
//   A reply is the bot's first m.notice after the command with m.in_reply_to = the command (or
//   with no reply relation but the expected text). ok needs, per command: a reply that
//   decrypted, was encrypted, is an m.notice, contains the expected text and has no red shield;
//   and overall: our device and the bot's device cross-signed by their owners, and nothing
//   else the bot sent during the run left undecryptable.
// Nothing else is written to stdout; stderr carries warn-level SDK logs with known message
// bodies (commands and replies) redacted.
//
// Every run publishes a NEW cross-signing identity for user_id (a fresh in-memory device cannot
// reach the previous private keys), so peers see the user's master key change between runs.

import { webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const started = Date.now();

// ---------------------------------------------------------------------------------------------
// Output discipline: stdout is for the single result line only.

const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };
let logLevel = LEVELS.warn;
const secrets = new Set(); // strings never to appear on stderr (message bodies, the password)

function redact(text) {
    let out = text;
    for (const s of secrets) {
        // (very short strings would mangle IDs and keys in the logs for no gain)
        if (s && s.length >= 4) out = out.split(s).join("<redacted>");
    }
    return out;
}

function stderrWriter(level) {
    return (...args) => {
        if (LEVELS[level] > logLevel) return;
        const text = args
            .map((a) => (typeof a === "string" ? a : a instanceof Error ? `${a.name}: ${a.message}` : safeJson(a)))
            .join(" ");
        process.stderr.write(`[element-client ${level}] ${redact(text)}\n`);
    };
}

function safeJson(value) {
    try {
        return JSON.stringify(value);
    } catch {
        return String(value);
    }
}

// loglevel (the SDK's logger) and the Rust crypto tracing both write through `console`.
console.log = stderrWriter("info");
console.info = stderrWriter("info");
console.debug = stderrWriter("debug");
console.trace = stderrWriter("debug");
console.warn = stderrWriter("warn");
console.error = stderrWriter("error");
const note = stderrWriter("warn");

if (!globalThis.crypto) globalThis.crypto = webcrypto;

// ---------------------------------------------------------------------------------------------
// Result

const result = {
    ok: false,
    user_id: null,
    device_id: null,
    room_id: null,
    bot_user_id: null,
    bot_device_id: null,
    bot_device_signed_by_owner: null,
    bot_device_verification: null,
    bot_devices: [],
    own_device_signed_by_owner: null,
    cross_signing_ready: null,
    isolation_mode: "OnlySignedDevicesIsolationMode",
    sdk_version: null,
    crypto_version: null,
    replies: [],
    other_bot_events: [],
    timings_s: {},
    errors: [],
    elapsed_s: null,
};

let reported = false;
function report(exitCode) {
    if (reported) return;
    reported = true;
    // One entry per command, always: the ones never sent are marked skipped.
    const commands = cfg?.commands ?? [];
    for (let i = result.replies.length; i < commands.length; i++) {
        result.replies.push({ command: commands[i], expected: cfg.expect[i], skipped: true });
        if (result.errors.length === 0) fail(`command ${i + 1}: not sent`);
    }
    result.ok = exitCode === 0 && result.errors.length === 0;
    result.elapsed_s = Math.round((Date.now() - started) / 100) / 10;
    process.exitCode = result.ok ? 0 : 1;
    process.stdout.write(JSON.stringify(result) + "\n");
}

function fail(message) {
    result.errors.push(message);
}

// Seconds since start at which each phase finished (for spotting where a slow run spends time).
const mark = (phase) => {
    result.timings_s[phase] = Math.round((Date.now() - started) / 100) / 10;
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Deadline extends Error {}

// ---------------------------------------------------------------------------------------------
// Config

function readConfig() {
    const arg = process.argv[2];
    let text;
    if (arg === undefined || arg === "-") text = readFileSync(0, "utf8");
    else if (arg.trimStart().startsWith("{")) text = arg;
    else text = readFileSync(arg, "utf8");
    const cfg = JSON.parse(text);
    for (const key of ["homeserver", "user_id", "password", "room_id", "bot_user_id"]) {
        if (typeof cfg[key] !== "string" || !cfg[key]) throw new Error(`config: "${key}" must be a non-empty string`);
    }
    if (!Array.isArray(cfg.commands) || !cfg.commands.every((c) => typeof c === "string" && c)) {
        throw new Error('config: "commands" must be a list of non-empty strings');
    }
    if (!Array.isArray(cfg.expect) || cfg.expect.length !== cfg.commands.length || !cfg.expect.every((e) => typeof e === "string")) {
        throw new Error('config: "expect" must be a list of strings, one per command');
    }
    cfg.timeout_s = Number(cfg.timeout_s ?? 60);
    if (!(cfg.timeout_s > 0)) throw new Error('config: "timeout_s" must be a positive number');
    cfg.logout = cfg.logout ?? true;
    cfg.device_name = cfg.device_name ?? "liaison-element-client";
    if (cfg.log_level !== undefined && !(cfg.log_level in LEVELS)) throw new Error('config: bad "log_level"');
    return cfg;
}

// ---------------------------------------------------------------------------------------------

// Decryption failures that the SDK will not retry (the event is dropped from its pending list,
// or the sender told us the key is withheld): no point waiting for a key.
const PERMANENT_FAILURES = new Set([
    "UNSIGNED_SENDER_DEVICE",
    "UNKNOWN_SENDER_DEVICE",
    "SENDER_IDENTITY_PREVIOUSLY_VERIFIED",
    "MEGOLM_KEY_WITHHELD",
    "MEGOLM_KEY_WITHHELD_FOR_UNVERIFIED_DEVICE",
    "HISTORICAL_MESSAGE_USER_NOT_JOINED",
]);

async function main(cfg, deadline) {
    const sdk = await import("matrix-js-sdk");
    const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
    const wasm = await import("@matrix-org/matrix-sdk-crypto-wasm");
    const require = createRequire(import.meta.url);
    result.sdk_version = require("matrix-js-sdk/package.json").version;

    const remaining = () => deadline - Date.now();
    const within = async (promise, what) => {
        let timer;
        const guard = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Deadline(`timed out ${what}`)), Math.max(0, remaining()));
        });
        try {
            return await Promise.race([promise, guard]);
        } finally {
            clearTimeout(timer);
        }
    };
    const waitFor = async (predicate, what, intervalMs = 100) => {
        for (;;) {
            const value = await predicate();
            if (value) return value;
            if (remaining() <= 0) throw new Deadline(`timed out ${what}`);
            await sleep(Math.min(intervalMs, Math.max(1, remaining())));
        }
    };

    const userId = cfg.user_id;
    const roomId = cfg.room_id;
    const botId = cfg.bot_user_id;
    result.user_id = userId;
    result.room_id = roomId;
    result.bot_user_id = botId;

    // --- log in: a new device every run ---------------------------------------------------
    const loginClient = sdk.createClient({ baseUrl: cfg.homeserver });
    const login = await within(
        loginClient.loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: userId },
            password: cfg.password,
            initial_device_display_name: cfg.device_name,
        }),
        "logging in",
    );
    result.device_id = login.device_id;
    mark("logged_in");

    const client = sdk.createClient({
        baseUrl: cfg.homeserver,
        userId: login.user_id,
        deviceId: login.device_id,
        accessToken: login.access_token,
        timelineSupport: true,
    });
    const state = { client, loggedIn: true };

    try {
        // --- Rust crypto, in memory ---------------------------------------------------------
        await within(client.initRustCrypto({ useIndexedDB: false }), "initialising Rust crypto");
        // The SDK turns Rust tracing on at debug level; keep only warnings and errors.
        new wasm.Tracing(logLevel >= LEVELS.debug ? wasm.LoggerLevel.Debug : wasm.LoggerLevel.Warn).turnOn();
        const crypto = client.getCrypto();
        result.crypto_version = crypto.getVersion();
        mark("crypto_ready");

        // --- cross-sign our own device --------------------------------------------------------
        // A fresh device has no way to the old private keys (no secret storage), so every run
        // publishes a new cross-signing identity; replacing one needs password UIA.
        await within(
            crypto.bootstrapCrossSigning({
                setupNewCrossSigning: true,
                authUploadDeviceSigningKeys: async (makeRequest) => {
                    try {
                        await makeRequest(null);
                    } catch (e) {
                        if (e?.httpStatus !== 401 || !e?.data?.flows) throw e;
                        await makeRequest({
                            type: "m.login.password",
                            identifier: { type: "m.id.user", user: userId },
                            password: cfg.password,
                            session: e.data.session,
                        });
                    }
                },
            }),
            "bootstrapping cross-signing",
        );
        result.cross_signing_ready = await crypto.isCrossSigningReady();
        mark("cross_signed");

        // Element's default: exclude insecure devices (send to / decrypt from cross-signed devices only).
        crypto.setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());

        // --- live timeline of the room, in arrival order --------------------------------------
        const arrivals = [];
        client.on(sdk.RoomEvent.Timeline, (event, room, toStartOfTimeline, removed, data) => {
            if (room?.roomId !== roomId || toStartOfTimeline || removed || !data?.liveEvent) return;
            arrivals.push(event);
        });

        // --- sync -------------------------------------------------------------------------------
        const prepared = new Promise((resolve) => {
            const onSync = (syncState) => {
                if (syncState === "PREPARED" || syncState === "SYNCING") {
                    client.off(sdk.ClientEvent.Sync, onSync);
                    resolve();
                }
            };
            client.on(sdk.ClientEvent.Sync, onSync);
        });
        await client.startClient({
            initialSyncLimit: 20,
            lazyLoadMembers: true,
            pendingEventOrdering: sdk.PendingEventOrdering.Detached,
        });
        await within(prepared, "waiting for the first sync");
        mark("first_sync");

        // Our device's self-signature is only seen once the /keys/query for our own user, queued
        // by the bootstrap, has been answered (the sync loop sends it).
        await waitFor(async () => {
            const own = await crypto.getDeviceVerificationStatus(login.user_id, login.device_id);
            result.own_device_signed_by_owner = own?.signedByOwner ?? false;
            return result.own_device_signed_by_owner;
        }, "waiting for our own device to show as cross-signed", 200).catch((e) => {
            if (!(e instanceof Deadline)) throw e;
            fail("own device is not cross-signed after bootstrapCrossSigning");
        });
        mark("own_device_signed");

        // --- join (accepting the invite if there is one) --------------------------------------
        let lastJoinError = null;
        await waitFor(async () => {
            const membership = client.getRoom(roomId)?.getMyMembership();
            if (membership === "join") return true;
            try {
                await within(client.joinRoom(roomId), "joining the room");
            } catch (e) {
                lastJoinError = e?.errcode ?? e?.message ?? String(e);
                await sleep(400); // maybe the invite has not arrived yet
            }
            return false;
        }, "joining the room", 200).catch((e) => {
            throw lastJoinError ? new Deadline(`${e.message} (last join error: ${lastJoinError})`) : e;
        });

        // --- the room must be loaded, encrypted and have the bot in it -------------------------
        const room = await waitFor(async () => {
            const r = client.getRoom(roomId);
            if (!r || r.getMyMembership() !== "join") return null;
            if (!r.hasEncryptionStateEvent() || !(await crypto.isEncryptionEnabledInRoom(roomId))) return null;
            return r;
        }, "waiting for the room to be joined and encrypted", 100);
        await within(room.loadMembersIfNeeded(), "loading room members");
        await waitFor(() => room.getMember(botId)?.membership === "join", `waiting for ${botId} to be in the room`, 200);
        mark("room_ready");

        // --- the conversation -------------------------------------------------------------------
        const seen = new Set(); // bot events already classified (reply or other)
        const conversationStart = arrivals.length; // older events are history, not replies
        for (let i = 0; i < cfg.commands.length; i++) {
            const command = cfg.commands[i];
            const expected = cfg.expect[i];
            const entry = {
                command,
                expected,
                skipped: false,
                command_event_id: null,
                event_id: null,
                body: null,
                msgtype: null,
                encrypted: null,
                decrypted: false,
                decryption_failure_reason: null,
                in_reply_to: null,
                contains_expected: false,
                sender_device_id: null,
                sender_device_verified_info: null,
                shield_colour: null,
                shield_reason: null,
                encryption_info: null,
            };
            result.replies.push(entry);
            if (remaining() <= 0) {
                entry.skipped = true;
                fail(`command ${i + 1}: not sent, out of time`);
                continue;
            }

            const from = arrivals.length;
            let sent;
            try {
                sent = await within(client.sendMessage(roomId, { msgtype: "m.text", body: command }), `sending command ${i + 1}`);
            } catch (e) {
                fail(`command ${i + 1}: sending failed: ${e?.name ?? "Error"}: ${redact(e?.message ?? String(e))}`);
                break;
            }
            entry.command_event_id = sent.event_id;
            mark(`command_${i + 1}_sent`);

            // Wait for the reply: the first m.notice from the bot after the command that replies to
            // it (m.in_reply_to). Bot events that stay undecryptable count against the command.
            let reply = null;
            let undecryptable = null;
            try {
                await waitFor(() => {
                    for (const ev of arrivals.slice(from)) {
                        if (ev.getSender() !== botId || seen.has(ev)) continue;
                        if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) return false; // settle first
                        if (ev.isDecryptionFailure()) {
                            undecryptable = ev;
                            if (PERMANENT_FAILURES.has(String(ev.decryptionFailureReason))) return true;
                            continue; // the key may still arrive
                        }
                        if (ev.getType() !== "m.room.message") continue;
                        const content = ev.getContent();
                        const rel = content["m.relates_to"] ?? ev.getWireContent()["m.relates_to"];
                        const replyTo = rel?.["m.in_reply_to"]?.event_id ?? null;
                        if (content.msgtype !== "m.notice") continue;
                        // A reply to this command, or (for bots that do not mark replies) a plain
                        // notice with the expected text; anything else is reported as "other".
                        const plainMatch = replyTo === null && typeof content.body === "string" && content.body.includes(expected);
                        if (replyTo !== sent.event_id && !plainMatch) continue;
                        reply = ev;
                        return true;
                    }
                    return false;
                }, `waiting for the reply to command ${i + 1}`);
            } catch (e) {
                if (!(e instanceof Deadline)) throw e;
            }

            const ev = reply ?? undecryptable;
            if (!ev) {
                fail(`command ${i + 1}: no reply from ${botId}`);
                break;
            }
            seen.add(ev);
            mark(`command_${i + 1}_answered`);
            await describeReply(ev, entry, { client, crypto, cryptoApi, botId });
            if (!entry.decrypted) {
                fail(`command ${i + 1}: the bot's reply did not decrypt (${entry.decryption_failure_reason})`);
                break;
            }
            if (!entry.encrypted) fail(`command ${i + 1}: the bot's reply was not encrypted`);
            if (entry.msgtype !== "m.notice") fail(`command ${i + 1}: the reply is ${entry.msgtype}, not m.notice`);
            if (!entry.contains_expected) fail(`command ${i + 1}: the reply does not contain the expected text`);
            if (entry.shield_colour === "RED") fail(`command ${i + 1}: red shield (${entry.shield_reason})`);
            if (entry.sender_device_verified_info && !entry.sender_device_verified_info.signed_by_owner) {
                fail(`command ${i + 1}: the replying device ${entry.sender_device_id} is not cross-signed by ${botId}`);
            }
        }

        // Replies the bot edited since (m.replace): what Element shows in their place.
        for (const entry of result.replies) {
            const rep = entry.event_id ? room.findEventById(entry.event_id)?.replacingEvent() : null;
            entry.edited_body = rep ? (rep.getContent()["m.new_content"]?.body ?? null) : null;
            entry.edit_decrypted = rep ? !rep.isDecryptionFailure() : null;
        }

        // Everything else the bot said after our first command, for diagnosis (and any of it that
        // failed to decrypt is an error: Element would show it as "Unable to decrypt").
        for (const ev of arrivals.slice(conversationStart)) {
            if (ev.getSender() !== botId || seen.has(ev)) continue;
            if (!ev.isEncrypted() && ev.getType() !== "m.room.message") continue; // state, receipts...
            const other = { event_id: ev.getId(), type: ev.getType(), decrypted: !ev.isDecryptionFailure() };
            if (ev.isBeingDecrypted() || ev.shouldAttemptDecryption()) {
                other.decrypted = null; // still in progress at the end of the run
            } else if (ev.isDecryptionFailure()) {
                other.decryption_failure_reason = String(ev.decryptionFailureReason);
                fail(`a further event from the bot did not decrypt (${other.decryption_failure_reason})`);
            } else if (ev.getType() === "m.room.message") {
                other.msgtype = ev.getContent().msgtype;
                other.body = ev.getContent().body;
                if (typeof other.body === "string") secrets.add(other.body);
            }
            result.other_bot_events.push(other);
        }

        // --- the bot's device ---------------------------------------------------------------------
        const devices = (await crypto.getUserDeviceInfo([botId], true)).get(botId) ?? new Map();
        for (const [deviceId] of devices) {
            const st = await crypto.getDeviceVerificationStatus(botId, deviceId);
            result.bot_devices.push({ device_id: deviceId, signed_by_owner: st?.signedByOwner ?? false });
        }
        result.bot_device_id =
            result.replies.find((r) => r.sender_device_id)?.sender_device_id ?? (devices.size === 1 ? [...devices.keys()][0] : null);
        if (result.bot_device_id) {
            const st = await crypto.getDeviceVerificationStatus(botId, result.bot_device_id);
            result.bot_device_verification = st && verificationInfo(st);
            result.bot_device_signed_by_owner = st?.signedByOwner ?? false;
            if (!result.bot_device_signed_by_owner) fail(`bot device ${result.bot_device_id} is not cross-signed by its owner`);
        } else {
            fail("could not tell which device the bot replied from");
        }
    } finally {
        await shutdown(state, cfg);
    }
}

function verificationInfo(st) {
    return {
        signed_by_owner: st.signedByOwner,
        cross_signing_verified: st.crossSigningVerified,
        local_verified: st.localVerified,
        tofu: st.tofu,
        is_verified: st.isVerified(),
    };
}

async function describeReply(ev, entry, { client, crypto, cryptoApi, botId }) {
    entry.event_id = ev.getId();
    entry.encrypted = ev.isEncrypted();
    entry.decrypted = !ev.isDecryptionFailure() && ev.getType() !== "m.room.encrypted";
    if (ev.isDecryptionFailure()) {
        entry.decryption_failure_reason = String(ev.decryptionFailureReason);
        entry.sender_device_id = ev.getWireContent().device_id ?? null; // if the sender still sets it
        return;
    }
    const content = ev.getContent();
    entry.msgtype = content.msgtype ?? null;
    entry.body = typeof content.body === "string" ? content.body : null;
    if (entry.body) secrets.add(entry.body);
    const rel = content["m.relates_to"] ?? ev.getWireContent()["m.relates_to"];
    entry.in_reply_to = rel?.["m.in_reply_to"]?.event_id ?? null;
    entry.contains_expected = entry.body !== null && entry.body.includes(entry.expected);

    const info = await crypto.getEncryptionInfoForEvent(ev);
    if (info) {
        entry.encryption_info = { shieldColour: info.shieldColour, shieldReason: info.shieldReason };
        entry.shield_colour = cryptoApi.EventShieldColour[info.shieldColour] ?? String(info.shieldColour);
        entry.shield_reason = info.shieldReason === null ? null : (cryptoApi.EventShieldReason[info.shieldReason] ?? String(info.shieldReason));
    }

    if (!entry.encrypted) return;
    // Which of the bot's devices sent it: match the Curve25519 key the megolm session came from.
    const senderKey = ev.getSenderKey();
    const devices = (await crypto.getUserDeviceInfo([botId], true)).get(botId) ?? new Map();
    let deviceId = null;
    for (const [id, device] of devices) {
        if (senderKey && device.getIdentityKey() === senderKey) deviceId = id;
    }
    deviceId ??= ev.getWireContent().device_id ?? null;
    entry.sender_device_id = deviceId;
    if (deviceId) {
        const st = await crypto.getDeviceVerificationStatus(botId, deviceId);
        entry.sender_device_verified_info = st ? verificationInfo(st) : null;
    }
}

async function shutdown(state, cfg) {
    const { client } = state;
    try {
        client.stopClient();
    } catch (e) {
        note("stopClient failed:", e);
    }
    if (cfg.logout && state.loggedIn) {
        try {
            let timer;
            await Promise.race([
                client.logout(false),
                new Promise((_, reject) => {
                    timer = setTimeout(() => reject(new Error("logout timed out")), 3000);
                }),
            ]).finally(() => clearTimeout(timer));
            state.loggedIn = false;
        } catch (e) {
            note("logout failed:", e);
        }
    }
}

// ---------------------------------------------------------------------------------------------

let cfg;
try {
    cfg = readConfig();
} catch (e) {
    fail(e.message);
    report(1);
    process.exit(1);
}
logLevel = LEVELS[cfg.log_level ?? "warn"];
secrets.add(cfg.password);
for (const c of cfg.commands) secrets.add(c);

const timeoutMs = cfg.timeout_s * 1000;
// Leave time to stop the client and log out before the hard limit.
const cleanupMs = Math.min(5000, timeoutMs * 0.2);
const watchdog = setTimeout(() => {
    fail(`hard timeout after ${cfg.timeout_s}s`);
    report(1);
    process.exit(1);
}, timeoutMs);

try {
    await main(cfg, started + timeoutMs - cleanupMs);
} catch (e) {
    fail(e instanceof Deadline ? e.message : `${e?.name ?? "Error"}: ${redact(e?.message ?? String(e))}`);
    if (!(e instanceof Deadline)) note(e?.stack ? redact(e.stack) : e);
}
clearTimeout(watchdog);
report(0);
// The client is stopped (and logged out), but matrix-js-sdk leaves ref'd request-timeout timers
// behind (its timeoutSignal ponyfill never clears them: up to 110 s for /sync, see
// matrix-org/matrix-js-sdk#2472), so exit explicitly once stdout is flushed.
if (logLevel >= LEVELS.debug) note("active resources at exit:", process.getActiveResourcesInfo().join(","));
process.stdout.write("", () => process.exit(process.exitCode));
