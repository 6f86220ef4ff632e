CREATE TABLE `changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`record_id` integer NOT NULL,
	`key` text NOT NULL,
	`operation` text NOT NULL,
	`at` text NOT NULL,
	`author` text,
	`fields` text,
	`previous` text
);
--> statement-breakpoint
CREATE INDEX `changes_record_idx` ON `changes` (`record_id`,`seq`);--> statement-breakpoint
-- Records stored before the log have no changes in it: a database that holds any starts its log
-- past sequence 1, so that a client syncing from 0 is told to take an export instead (410).
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'changes', 1
   WHERE EXISTS (SELECT 1 FROM sources) OR EXISTS (SELECT 1 FROM places) OR EXISTS (SELECT 1 FROM actors)
      OR EXISTS (SELECT 1 FROM entries) OR EXISTS (SELECT 1 FROM timelines);
