import Database from 'better-sqlite3';
import type { VolumeFormat } from './volume-format.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface CaseRow {
  id: string;
  createdAt: string;
  originalName: string | null;
  format: VolumeFormat;
  sizeBytes: number;
  pluginIds: string[];
  /** File names relative to the case folder (server-chosen). */
  inputFile: string;
  imageFile: string | null;
  status: JobStatus;
  progress: number;
  stage: string;
  error: string | null;
  attempts: number;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  inferenceMs: number | null;
  /** Set when retention deleted the case's files. */
  purgedAt: string | null;
}

export interface PredictionRow {
  pluginId: string;
  label: string;
  probability: number;
  /** Relative to the case folder. */
  heatmapFile: string | null;
}

export type Verdict = 'agree' | 'disagree';

export interface AuditRow {
  seq: number;
  at: string;
  user: string;
  role: string;
  /** upload, view, review, retry, plugin-load, purge, … */
  action: string;
  caseId: string | null;
  detail: string;
}

export interface ReviewRow {
  id: string;
  reviewer: string;
  comment: string;
  createdAt: string;
  verdicts: { pluginId: string; label: string; verdict: Verdict }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cases (
  id TEXT PRIMARY KEY, created_at TEXT NOT NULL, original_name TEXT, format TEXT NOT NULL,
  size_bytes INTEGER NOT NULL, plugin_ids TEXT NOT NULL, input_file TEXT NOT NULL, image_file TEXT);
CREATE TABLE IF NOT EXISTS jobs (
  case_id TEXT PRIMARY KEY REFERENCES cases(id),
  status TEXT NOT NULL CHECK (status IN ('queued','running','done','failed')),
  progress REAL NOT NULL DEFAULT 0, stage TEXT NOT NULL DEFAULT 'queued', error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0, queued_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
  inference_ms REAL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS predictions (
  case_id TEXT NOT NULL REFERENCES cases(id), plugin_id TEXT NOT NULL, label TEXT NOT NULL,
  probability REAL NOT NULL, heatmap_file TEXT, PRIMARY KEY (case_id, plugin_id, label));
CREATE TABLE IF NOT EXISTS reviews (
  id TEXT PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id), reviewer TEXT NOT NULL,
  comment TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_verdicts (
  review_id TEXT NOT NULL REFERENCES reviews(id), plugin_id TEXT NOT NULL, label TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('agree','disagree')));
CREATE TABLE IF NOT EXISTS loaded_plugins (dir TEXT PRIMARY KEY, loaded_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
  action TEXT NOT NULL, case_id TEXT, detail TEXT NOT NULL DEFAULT '');
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, seq);
CREATE INDEX IF NOT EXISTS reviews_by_case ON reviews(case_id, created_at);
`;

interface CaseJoin {
  id: string;
  created_at: string;
  original_name: string | null;
  format: VolumeFormat;
  size_bytes: number;
  plugin_ids: string;
  input_file: string;
  image_file: string | null;
  status: JobStatus;
  progress: number;
  stage: string;
  error: string | null;
  attempts: number;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  inference_ms: number | null;
  purged_at: string | null;
}

const CASE_SELECT = `SELECT c.*, j.status, j.progress, j.stage, j.error, j.attempts, j.queued_at, j.started_at,
  j.finished_at, j.inference_ms FROM cases c JOIN jobs j ON j.case_id = c.id`;

/**
 * Cases, their inference jobs, predictions and reviews in one SQLite file (WAL, so readers never
 * wait on the writer). Every write is one statement or one transaction: a crash leaves the
 * previous state, never half of a new one.
 */
export class Store {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // Every commit reaches the disk before it is acknowledged: a review survives a power cut.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.migrate();
  }

  /** Columns added after the first release: an older database gains them in place. */
  private migrate(): void {
    const columns = (this.db.prepare('PRAGMA table_info(cases)').all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('purged_at')) this.db.exec('ALTER TABLE cases ADD COLUMN purged_at TEXT');
  }

  close(): void {
    this.db.close();
  }

  insertCase(c: {
    id: string;
    originalName: string | null;
    format: VolumeFormat;
    sizeBytes: number;
    pluginIds: string[];
    inputFile: string;
  }): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO cases (id, created_at, original_name, format, size_bytes, plugin_ids, input_file) VALUES (?,?,?,?,?,?,?)',
        )
        .run(c.id, now, c.originalName, c.format, c.sizeBytes, JSON.stringify(c.pluginIds), c.inputFile);
      this.db
        .prepare(
          "INSERT INTO jobs (case_id, status, queued_at, seq) VALUES (?, 'queued', ?, (SELECT COALESCE(MAX(seq),0)+1 FROM jobs))",
        )
        .run(c.id, now);
    })();
  }

  getCase(id: string): CaseRow | null {
    const row = this.db.prepare(`${CASE_SELECT} WHERE c.id = ?`).get(id) as CaseJoin | undefined;
    return row ? toCase(row) : null;
  }

  listCases(limit: number, offset: number): CaseRow[] {
    const rows = this.db
      .prepare(`${CASE_SELECT} ORDER BY j.seq DESC LIMIT ? OFFSET ?`)
      .all(limit, offset) as CaseJoin[];
    return rows.map(toCase);
  }

  countCases(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM cases').get() as { n: number }).n;
  }

  /**
   * Jobs a previous process left queued or running, oldest first, set back to queued — except a
   * running one that has used its `maxAttempts` starts (each start counted one, including the start
   * the process died in): that one is failed for good, so a job that kills the server does not
   * kill it again at every start.
   */
  requeueInterrupted(maxAttempts = Number.POSITIVE_INFINITY): { requeued: string[]; failed: string[] } {
    return this.db.transaction(() => {
      const spent = (
        this.db.prepare("SELECT case_id FROM jobs WHERE status = 'running' AND attempts >= ?").all(maxAttempts) as {
          case_id: string;
        }[]
      ).map((r) => r.case_id);
      const fail = this.db.prepare(
        "UPDATE jobs SET status = 'failed', stage = 'failed', error = ?, finished_at = ? WHERE case_id = ?",
      );
      for (const id of spent)
        fail.run(
          `failed after ${maxAttempts} attempt(s): the server process ended during each (the job may exhaust memory; an admin can retry it)`,
          new Date().toISOString(),
          id,
        );
      this.db
        .prepare("UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0 WHERE status = 'running'")
        .run();
      const rows = this.db.prepare("SELECT case_id FROM jobs WHERE status = 'queued' ORDER BY seq").all() as {
        case_id: string;
      }[];
      return { requeued: rows.map((r) => r.case_id), failed: spent };
    })();
  }

  /** A job whose start ended with its analysis process: waiting again, its attempts kept. */
  requeue(caseId: string): void {
    this.db
      .prepare(
        "UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0 WHERE case_id = ? AND status = 'running'",
      )
      .run(caseId);
  }

  /** An admin's retry of a failed job: queued again with its attempts reset. False if it is not failed. */
  retry(caseId: string): boolean {
    const r = this.db
      .prepare(
        "UPDATE jobs SET status = 'queued', stage = 'queued', progress = 0, attempts = 0, error = NULL, finished_at = NULL, seq = (SELECT COALESCE(MAX(seq),0)+1 FROM jobs) WHERE case_id = ? AND status = 'failed'",
      )
      .run(caseId);
    return r.changes === 1;
  }

  /** Appends one row to the audit trail (the table refuses updates and deletes). */
  audit(entry: { user: string; role: string; action: string; caseId?: string | null; detail?: string }): void {
    this.db
      .prepare('INSERT INTO audit (at, user, role, action, case_id, detail) VALUES (?,?,?,?,?,?)')
      .run(new Date().toISOString(), entry.user, entry.role, entry.action, entry.caseId ?? null, entry.detail ?? '');
  }

  auditTrail(options: { limit: number; offset: number; caseId?: string }): AuditRow[] {
    const where = options.caseId ? 'WHERE case_id = ?' : '';
    const args = options.caseId ? [options.caseId, options.limit, options.offset] : [options.limit, options.offset];
    return (
      this.db.prepare(`SELECT * FROM audit ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...args) as {
        seq: number;
        at: string;
        user: string;
        role: string;
        action: string;
        case_id: string | null;
        detail: string;
      }[]
    ).map((r) => ({
      seq: r.seq,
      at: r.at,
      user: r.user,
      role: r.role,
      action: r.action,
      caseId: r.case_id,
      detail: r.detail,
    }));
  }

  /** Finished cases created before `before` whose files are still kept (retention). */
  casesToPurge(before: string): string[] {
    return (
      this.db
        .prepare(
          "SELECT c.id FROM cases c JOIN jobs j ON j.case_id = c.id WHERE c.created_at < ? AND j.status IN ('done','failed') AND c.purged_at IS NULL",
        )
        .all(before) as { id: string }[]
    ).map((r) => r.id);
  }

  markPurged(caseId: string): void {
    this.db
      .prepare('UPDATE cases SET purged_at = ?, image_file = NULL WHERE id = ?')
      .run(new Date().toISOString(), caseId);
  }

  markRunning(caseId: string): void {
    this.db
      .prepare(
        "UPDATE jobs SET status = 'running', stage = 'starting', progress = 0, started_at = ?, attempts = attempts + 1, error = NULL WHERE case_id = ?",
      )
      .run(new Date().toISOString(), caseId);
  }

  setProgress(caseId: string, progress: number, stage: string): void {
    this.db
      .prepare("UPDATE jobs SET progress = ?, stage = ? WHERE case_id = ? AND status = 'running'")
      .run(progress, stage, caseId);
  }

  finish(caseId: string, imageFile: string, predictions: PredictionRow[], inferenceMs: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM predictions WHERE case_id = ?').run(caseId);
      const insert = this.db.prepare(
        'INSERT INTO predictions (case_id, plugin_id, label, probability, heatmap_file) VALUES (?,?,?,?,?)',
      );
      for (const p of predictions) insert.run(caseId, p.pluginId, p.label, p.probability, p.heatmapFile);
      this.db.prepare('UPDATE cases SET image_file = ? WHERE id = ?').run(imageFile, caseId);
      this.db
        .prepare(
          "UPDATE jobs SET status = 'done', stage = 'done', progress = 1, finished_at = ?, inference_ms = ? WHERE case_id = ?",
        )
        .run(new Date().toISOString(), inferenceMs, caseId);
    })();
  }

  fail(caseId: string, message: string): void {
    this.db
      .prepare("UPDATE jobs SET status = 'failed', stage = 'failed', error = ?, finished_at = ? WHERE case_id = ?")
      .run(message, new Date().toISOString(), caseId);
  }

  predictions(caseId: string): PredictionRow[] {
    return (
      this.db
        .prepare('SELECT plugin_id, label, probability, heatmap_file FROM predictions WHERE case_id = ? ORDER BY rowid')
        .all(caseId) as { plugin_id: string; label: string; probability: number; heatmap_file: string | null }[]
    ).map((r) => ({ pluginId: r.plugin_id, label: r.label, probability: r.probability, heatmapFile: r.heatmap_file }));
  }

  addReview(caseId: string, review: ReviewRow): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO reviews (id, case_id, reviewer, comment, created_at) VALUES (?,?,?,?,?)')
        .run(review.id, caseId, review.reviewer, review.comment, review.createdAt);
      const insert = this.db.prepare(
        'INSERT INTO review_verdicts (review_id, plugin_id, label, verdict) VALUES (?,?,?,?)',
      );
      for (const v of review.verdicts) insert.run(review.id, v.pluginId, v.label, v.verdict);
    })();
  }

  reviews(caseId: string): ReviewRow[] {
    const rows = this.db
      .prepare('SELECT id, reviewer, comment, created_at FROM reviews WHERE case_id = ? ORDER BY created_at, rowid')
      .all(caseId) as { id: string; reviewer: string; comment: string; created_at: string }[];
    const verdicts = this.db.prepare(
      'SELECT plugin_id, label, verdict FROM review_verdicts WHERE review_id = ? ORDER BY rowid',
    );
    return rows.map((r) => ({
      id: r.id,
      reviewer: r.reviewer,
      comment: r.comment,
      createdAt: r.created_at,
      verdicts: (verdicts.all(r.id) as { plugin_id: string; label: string; verdict: Verdict }[]).map((v) => ({
        pluginId: v.plugin_id,
        label: v.label,
        verdict: v.verdict,
      })),
    }));
  }

  rememberPlugin(dir: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO loaded_plugins (dir, loaded_at) VALUES (?, ?)')
      .run(dir, new Date().toISOString());
  }

  rememberedPlugins(): string[] {
    return (this.db.prepare('SELECT dir FROM loaded_plugins ORDER BY loaded_at').all() as { dir: string }[]).map(
      (r) => r.dir,
    );
  }

  queueLength(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued'").get() as { n: number }).n;
  }
}

function toCase(r: CaseJoin): CaseRow {
  return {
    id: r.id,
    createdAt: r.created_at,
    originalName: r.original_name,
    format: r.format,
    sizeBytes: r.size_bytes,
    pluginIds: JSON.parse(r.plugin_ids) as string[],
    inputFile: r.input_file,
    imageFile: r.image_file,
    status: r.status,
    progress: r.progress,
    stage: r.stage,
    error: r.error,
    attempts: r.attempts,
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    inferenceMs: r.inference_ms,
    purgedAt: r.purged_at,
  };
}
