package dev.ds4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ds4j.chat.Prompt;
import dev.ds4j.chat.PyJson;
import dev.ds4j.chat.RenderOptions;
import dev.ds4j.chat.RenderRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "render", mixinStandardHelpOptions = true,
        description = {"Renders a chat request into the exact DeepSeek-V4 prompt text (no trailing newline), or its token ids with --ids.",
                "FILE is a JSON object {\"messages\", \"tools\"?, \"response_format\"?, \"thinking_mode\": \"chat\"|\"thinking\", "
                        + "\"reasoning_effort\": null|\"low\"|\"high\"|\"max\", \"drop_thinking\"?: bool, \"encoder_revision\"?: \"original\"|\"0731\"}.",
                "Invalid requests are an error naming the message index and field; exit code 2."})
final class RenderCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "request JSON (- for stdin)")
    String file;

    @Option(names = "--ids", description = "print token ids as a JSON array instead of the text")
    boolean ids;

    @Option(names = "--revision", paramLabel = "original|0731",
            description = "encoder revision for the reasoning-effort rule (default: the file's encoder_revision, else original; effort \"low\" implies 0731)")
    String revision;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "tokenizer.json for --ids (default: MODEL/tokenizer.json, else ../shared/data/deepseek-v4/tokenizer.json)")
    Path tokenizer;

    @Option(names = "--model", paramLabel = "DIR", description = "checkpoint directory whose tokenizer.json to use for --ids")
    Path model;

    @Override
    public Integer call() {
        JsonNode root;
        try {
            root = PyJson.loads(Inputs.readUtf8(file));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage()
                    + " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")");
        }
        RenderOptions.Revision rev = revision == null ? null : RenderOptions.Revision.parse(revision, "--revision");
        Prompt prompt = RenderRequest.fromJson(root, rev).render();
        PrintStream out = Inputs.stdout();
        if (ids) {
            int[] tokens = TokenizerSupport.encode(prompt, Inputs.tokenizerPath(tokenizer, model));
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < tokens.length; i++) sb.append(i == 0 ? "" : ", ").append(tokens[i]);
            out.println(sb.append(']'));
        } else {
            out.print(prompt.text());
            out.flush();
        }
        return 0;
    }
}
