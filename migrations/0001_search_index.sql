-- Full-text index of events and statements. The body is a normalised copy of the entry's
-- texts in every language and of its actors' and places' names (src/search/text.ts folds
-- and stems it in JS), so the table stores no content of its own; rowid is entries.id.
CREATE VIRTUAL TABLE `search_index` USING fts5(
	body,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);
--> statement-breakpoint
CREATE TRIGGER `entries_search_index_delete` AFTER DELETE ON `entries` BEGIN
	DELETE FROM `search_index` WHERE rowid = old.id;
END;
