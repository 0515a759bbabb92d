-- A conversation's posts by type, read from the index alone: the conversation
-- export counts each conversation's incoming posts and responses, and with the
-- type in the key that count is an index-only scan instead of a visit to every
-- post's table page (the 1M-conversation CSV export in one COPY: 9.4-10.6 s
-- instead of 11.2-11.9 s). Pages not yet marked all-visible by (auto)vacuum,
-- right after a bulk import, are still visited. The index serves every lookup
-- of a conversation's posts that the one it replaces did; it is 119 MB for
-- 4.3M posts where that one, which shared an entry among a conversation's
-- some four posts, was 62 MB: this one has an entry per conversation and type.
-- Building it holds writes to posts (about 4 s for those 4.3M posts), and the
-- old index's drop takes posts' exclusive lock for the moment before commit,
-- waiting for queries under way on posts (a running export) and holding new
-- ones meanwhile.
CREATE INDEX posts_conversation_type ON posts (company_id, conversation_id, post_type);
DROP INDEX posts_conversation;
