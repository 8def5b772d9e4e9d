/**
 * The tools an agent's model can call, executed in a {@link dev.ds4j.sandbox.Sandbox}: shell, read_file,
 * write_file, edit_file, list_files, search_files and run_tests, gathered in a
 * {@link dev.ds4j.agent.tools.ToolRegistry} that declares them as OpenAI function tools and dispatches parsed
 * calls. Every tool runs as commands in the sandbox (the process substrate: a fresh bubblewrap per exec, only
 * /workspace persists), with values passed as positional shell arguments or on stdin, never spliced into a
 * command line. Bad arguments, unknown tools and failing commands are {@link dev.ds4j.agent.tools.ToolResult}
 * errors the model reads; only the sandbox itself failing throws.
 */
package dev.ds4j.agent.tools;
