CREATE TABLE `entry_documents` (
	`entry_id` integer PRIMARY KEY NOT NULL,
	`body` blob NOT NULL,
	`languages` text,
	FOREIGN KEY (`entry_id`) REFERENCES `entries`(`id`) ON UPDATE no action ON DELETE cascade
);
