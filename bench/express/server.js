// SongTrackPro's Express stack at its smallest (the implementation guide: Express, JWT auth, pg): one route,
// GET /api/auth/profile, that verifies the Bearer JWT (HS256, the same key and token as our API) and
// selects the user by id from the same PostgreSQL, as the guide's auth middleware and profile handler do.
// Env: DATABASE_URL, JWT_SECRET_HEX, POOL (default 10); --ready FILE: where the URL goes once listening.
'use strict';
const fs = require('fs');
const express = require('express');
const jwt = require('jsonwebtoken');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL || 10) });
const secret = Buffer.from(process.env.JWT_SECRET_HEX, 'hex');
const app = express();

function authenticate(req, res, next) {
  const [scheme, token] = (req.headers.authorization || '').split(' ');
  if (scheme !== 'Bearer' || !token) return res.status(401).json({ error: 'missing token' });
  try {
    req.user = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch {
    return res.status(401).json({ error: 'invalid token' });
  }
  next();
}

app.get('/api/auth/profile', authenticate, async (req, res, next) => {
  try {
    const { rows } = await pool.query(
      'SELECT id, email, name, role, organization_id, email_verified_at IS NOT NULL AS email_verified,'
      + ' created_at FROM users WHERE id = $1', [req.user.sub]);
    if (!rows.length) return res.status(404).json({ error: 'not found' });
    res.json({ user: rows[0] });
  } catch (err) {
    next(err);
  }
});

const server = app.listen(0, '127.0.0.1', () => {
  const ready = process.argv[process.argv.indexOf('--ready') + 1];
  fs.writeFileSync(ready + '.tmp', `http://127.0.0.1:${server.address().port}`);
  fs.renameSync(ready + '.tmp', ready);
});
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
