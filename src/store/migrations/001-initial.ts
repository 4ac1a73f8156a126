import type { Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('email', 'text', (col) => col.unique())
    .addColumn('full_name', 'text')
    .addColumn('role', 'text', (col) => col.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('external_issuer', 'text')
    .addColumn('external_subject', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addUniqueConstraint('users_external_identity', ['external_issuer', 'external_subject'])
    .execute()

  await db.schema
    .createTable('chat_sessions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('title', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('initiator_id', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('assigned_agent_id', 'text', (col) => col.references('users.id'))
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('closed_at', 'bigint')
    .addColumn('closed_by', 'text')
    .addColumn('last_seq', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('last_activity_at', 'bigint', (col) => col.notNull())
    .execute()
  // Admins' list and the agents' queue, both newest activity first.
  await db.schema
    .createIndex('chat_sessions_by_activity')
    .on('chat_sessions')
    .columns(['status', 'last_activity_at'])
    .execute()

  await db.schema
    .createTable('chat_participants')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('chat_session_id', 'text', (col) => col.notNull().references('chat_sessions.id'))
    .addColumn('user_id', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('role', 'text', (col) => col.notNull())
    .addColumn('joined_at', 'bigint', (col) => col.notNull())
    .addColumn('left_at', 'bigint')
    .addColumn('last_read_seq', 'bigint', (col) => col.notNull().defaultTo(0))
    .addColumn('last_read_at', 'bigint')
    .addColumn('last_delivered_seq', 'bigint', (col) => col.notNull().defaultTo(0))
    .addUniqueConstraint('chat_participants_member', ['chat_session_id', 'user_id'])
    .execute()
  await db.schema
    .createIndex('chat_participants_by_user')
    .on('chat_participants')
    .columns(['user_id', 'chat_session_id'])
    .execute()

  await db.schema
    .createTable('chat_messages')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('chat_session_id', 'text', (col) => col.notNull().references('chat_sessions.id'))
    .addColumn('seq', 'bigint', (col) => col.notNull())
    .addColumn('sender_id', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('message_type', 'text', (col) => col.notNull())
    .addColumn('content', 'text', (col) => col.notNull())
    .addColumn('reply_to_id', 'text')
    .addColumn('mentions', 'text')
    .addColumn('file_url', 'text')
    .addColumn('file_name', 'text')
    .addColumn('file_size', 'bigint')
    .addColumn('file_type', 'text')
    .addColumn('client_message_id', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    // History pages, cursors, replay and unread counts are all range scans on this key.
    .addUniqueConstraint('chat_messages_session_seq', ['chat_session_id', 'seq'])
    // Idempotent sends: NULLs are distinct, so only messages that carry an id are constrained.
    .addUniqueConstraint('chat_messages_client_id', [
      'chat_session_id',
      'sender_id',
      'client_message_id',
    ])
    .execute()

  await db.schema
    .createTable('user_blocks')
    .addColumn('blocker_id', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('blocked_id', 'text', (col) => col.notNull().references('users.id'))
    .addColumn('reason', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('user_blocks_pair', ['blocker_id', 'blocked_id'])
    .execute()
  await db.schema
    .createIndex('user_blocks_by_blocked')
    .on('user_blocks')
    .column('blocked_id')
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'user_blocks',
    'chat_messages',
    'chat_participants',
    'chat_sessions',
    'users',
  ]) {
    await db.schema.dropTable(table).execute()
  }
}
