CREATE TABLE `actor_affiliations` (
	`actor_id` integer NOT NULL,
	`position` integer NOT NULL,
	`other_actor_id` integer NOT NULL,
	`role` text NOT NULL,
	`date` text,
	`earliest` integer,
	`latest` integer,
	PRIMARY KEY(`actor_id`, `position`),
	FOREIGN KEY (`actor_id`) REFERENCES `actors`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`other_actor_id`) REFERENCES `actors`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `actor_affiliations_other_idx` ON `actor_affiliations` (`other_actor_id`);--> statement-breakpoint
CREATE TABLE `actors` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`aliases` text NOT NULL,
	`external_ids` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `actors_key_unique` ON `actors` (`key`);--> statement-breakpoint
CREATE INDEX `actors_type_idx` ON `actors` (`type`,`id`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`hash` text NOT NULL,
	`hint` text NOT NULL,
	`scopes` text NOT NULL,
	`created_at` text NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE TABLE `citations` (
	`entry_id` integer NOT NULL,
	`position` integer NOT NULL,
	`source_id` integer NOT NULL,
	`excerpt` text,
	`start` integer,
	`end` integer,
	PRIMARY KEY(`entry_id`, `position`),
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `citations_source_idx` ON `citations` (`source_id`);--> statement-breakpoint
CREATE TABLE `entries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`kind` text NOT NULL,
	`type` text NOT NULL,
	`date` text NOT NULL,
	`precision` text NOT NULL,
	`earliest` integer NOT NULL,
	`latest` integer NOT NULL,
	`span_class` integer NOT NULL,
	`title` text,
	`description` text,
	`text` text,
	`original_lang` text,
	`speaker_id` integer,
	`context_id` integer,
	`parent_id` integer,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`speaker_id`) REFERENCES `actors`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`context_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`parent_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE restrict,
	CONSTRAINT "entries_kind" CHECK("entries"."kind" IN ('event', 'statement')),
	CONSTRAINT "entries_bounds" CHECK("entries"."earliest" <= "entries"."latest")
);
--> statement-breakpoint
CREATE UNIQUE INDEX `entries_key_unique` ON `entries` (`key`);--> statement-breakpoint
CREATE INDEX `entries_chrono_idx` ON `entries` (`span_class`,`earliest`,`latest`,`kind`,`id`);--> statement-breakpoint
CREATE INDEX `entries_type_idx` ON `entries` (`type`,`earliest`);--> statement-breakpoint
CREATE INDEX `entries_speaker_idx` ON `entries` (`speaker_id`);--> statement-breakpoint
CREATE INDEX `entries_context_idx` ON `entries` (`context_id`);--> statement-breakpoint
CREATE INDEX `entries_parent_idx` ON `entries` (`parent_id`);--> statement-breakpoint
CREATE TABLE `entry_actors` (
	`entry_id` integer NOT NULL,
	`position` integer NOT NULL,
	`actor_id` integer NOT NULL,
	`role` text NOT NULL,
	PRIMARY KEY(`entry_id`, `position`),
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`actor_id`) REFERENCES `actors`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `entry_actors_actor_idx` ON `entry_actors` (`actor_id`,`role`,`entry_id`);--> statement-breakpoint
CREATE TABLE `entry_events` (
	`entry_id` integer NOT NULL,
	`position` integer NOT NULL,
	`event_id` integer NOT NULL,
	PRIMARY KEY(`entry_id`, `position`),
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`event_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `entry_events_event_idx` ON `entry_events` (`event_id`);--> statement-breakpoint
CREATE TABLE `entry_places` (
	`entry_id` integer NOT NULL,
	`position` integer NOT NULL,
	`place_id` integer NOT NULL,
	PRIMARY KEY(`entry_id`, `position`),
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`place_id`) REFERENCES `places`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `entry_places_place_idx` ON `entry_places` (`place_id`,`entry_id`);--> statement-breakpoint
CREATE TABLE `entry_tags` (
	`entry_id` integer NOT NULL,
	`position` integer NOT NULL,
	`tag` text NOT NULL,
	PRIMARY KEY(`entry_id`, `position`),
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `entry_tags_tag_idx` ON `entry_tags` (`tag`,`entry_id`);--> statement-breakpoint
CREATE TABLE `places` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`country_code` text,
	`parent_id` integer,
	`lat` real,
	`lon` real,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`parent_id`) REFERENCES `places`(`id`) ON UPDATE no action ON DELETE restrict,
	CONSTRAINT "places_coordinates" CHECK(("places"."lat" IS NULL) = ("places"."lon" IS NULL))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `places_key_unique` ON `places` (`key`);--> statement-breakpoint
CREATE INDEX `places_parent_idx` ON `places` (`parent_id`);--> statement-breakpoint
CREATE TABLE `settings` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sources` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`title` text,
	`outlet` text,
	`url` text,
	`lang` text,
	`published` text,
	`published_earliest` integer,
	`published_latest` integer,
	`retrieved` text,
	`text` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sources_key_unique` ON `sources` (`key`);--> statement-breakpoint
CREATE TABLE `timeline_entries` (
	`timeline_id` integer NOT NULL,
	`position` integer NOT NULL,
	`entry_id` integer NOT NULL,
	PRIMARY KEY(`timeline_id`, `position`),
	FOREIGN KEY (`timeline_id`) REFERENCES `timelines`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `timeline_entries_entry_idx` ON `timeline_entries` (`entry_id`);--> statement-breakpoint
CREATE TABLE `timelines` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`slug` text NOT NULL,
	`title` text NOT NULL,
	`description` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `timelines_key_unique` ON `timelines` (`key`);--> statement-breakpoint
CREATE UNIQUE INDEX `timelines_slug_unique` ON `timelines` (`slug`);