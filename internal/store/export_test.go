package store

// SplitStatements splits a migration's text into its statements, as Migrate
// does; tests use it to build the layouts of older releases.
var SplitStatements = splitStatements
