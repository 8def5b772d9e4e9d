package dev.ds4j.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Line format: {@code {"seq":N,"kind":"...",<fields>,"crc":"xxxxxxxx"}}. The CRC32 covers the exact UTF-8 bytes
 * of the line with the crc member removed (that is, the text up to {@code ,"crc"} followed by {@code }}), so
 * checking it needs no canonical JSON form: the checksum is over the bytes as written.
 */
final class TrajectoryCodec {
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    private static final String CRC_PREFIX = ",\"crc\":\"";
    // ,"crc":" + 8 hex digits + "}
    private static final int CRC_SUFFIX_LENGTH = CRC_PREFIX.length() + 8 + 2;

    private static final Map<String, Class<? extends TrajectoryRecord>> KINDS = Map.of(
            "run_start", TrajectoryRecord.RunStart.class,
            "model_step", TrajectoryRecord.ModelStep.class,
            "tool_started", TrajectoryRecord.ToolStarted.class,
            "tool_finished", TrajectoryRecord.ToolFinished.class,
            "run_end", TrajectoryRecord.RunEnd.class);

    private TrajectoryCodec() {}

    /** The line for a record, newline included. JSON escapes control characters, so the line has no other newline. */
    static byte[] encode(long seq, TrajectoryRecord record) {
        ObjectNode node = JSON.createObjectNode();
        node.put("seq", seq);
        node.put("kind", record.kind());
        node.setAll((ObjectNode) JSON.valueToTree(record));
        String body;
        try {
            body = JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise trajectory record " + record.kind(), e);
        }
        String head = body.substring(0, body.length() - 1);
        String line = head + CRC_PREFIX + crcHex(body) + "\"}\n";
        return line.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Decodes one line (without its newline).
     *
     * @throws BadLine saying what is wrong, for the caller to turn into a truncation or an error
     */
    static TrajectoryRecord decode(String line, long expectedSeq) throws BadLine {
        if (line.length() < CRC_SUFFIX_LENGTH || !line.endsWith("\"}")
                || !line.startsWith(CRC_PREFIX, line.length() - CRC_SUFFIX_LENGTH)) {
            throw new BadLine("no checksum at the end of the line (incomplete write?)");
        }
        int crcAt = line.length() - CRC_SUFFIX_LENGTH;
        String stored = line.substring(crcAt + CRC_PREFIX.length(), line.length() - 2);
        String body = line.substring(0, crcAt) + "}";
        String actual = crcHex(body);
        if (!actual.equals(stored)) {
            throw new BadLine("checksum mismatch (stored " + stored + ", content gives " + actual + ")");
        }
        JsonNode node;
        try {
            node = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new BadLine("checksum matches but the line is not JSON: " + e.getOriginalMessage());
        }
        if (!(node instanceof ObjectNode obj)) throw new BadLine("not a JSON object");
        JsonNode seq = obj.remove("seq");
        if (seq == null || !seq.canConvertToLong()) throw new BadLine("no integer seq");
        if (seq.asLong() != expectedSeq) {
            throw new BadLine("seq " + seq.asLong() + " where " + expectedSeq + " was expected (records lost or reordered)");
        }
        JsonNode kind = obj.remove("kind");
        Class<? extends TrajectoryRecord> type = kind == null ? null : KINDS.get(kind.asText());
        if (type == null) throw new BadLine("unknown record kind " + kind);
        try {
            return JSON.treeToValue(obj, type);
        } catch (JsonProcessingException | IllegalArgumentException | NullPointerException e) {
            throw new BadLine(kind.asText() + " record is malformed: "
                    + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
    }

    private static String crcHex(String body) {
        CRC32 crc = new CRC32();
        crc.update(body.getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }

    /** What is wrong with one line; the reader adds the file and line number. */
    static final class BadLine extends Exception {
        BadLine(String message) { super(message, null, false, false); }
    }
}
