package dev.ds4j.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.math.BigDecimal;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON exactly as DeepSeek's Python encoder writes and reads it. The prompt contains
 * {@code json.dumps(v, ensure_ascii=False)} output (tool schemas, response formats, non-string tool
 * arguments), so byte parity needs Python's separators, escapes and float {@code repr}, and the
 * arguments strings must be read the way {@code json.loads} reads them (floats stay floats: {@code 1E5}
 * becomes {@code 100000.0}; integers keep full precision; a repeated key keeps its first position and
 * its last value).
 */
public final class PyJson {
    private PyJson() {}

    /**
     * Reads JSON like Python's {@code json.loads}: order-preserving objects, {@code NaN}/{@code Infinity}
     * accepted, floats as doubles, integers as exact integers, duplicate keys resolved as Python does
     * (Jackson's tree replaces the value in place, which keeps the first key's position).
     */
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .build();

    /** Parses JSON text; throws {@link JsonProcessingException} with Jackson's location on bad input. */
    public static JsonNode loads(String text) throws JsonProcessingException {
        return MAPPER.readTree(text);
    }

    /** {@code json.dumps(value, ensure_ascii=False)}. */
    public static String dumps(JsonNode value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb);
        return sb.toString();
    }

    /** A JSON string literal as Python writes it: non-ASCII raw, control characters escaped. */
    public static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2);
        appendQuoted(s, sb);
        return sb.toString();
    }

    public static void appendQuoted(CharSequence s, StringBuilder sb) {
        sb.append('"');
        appendEscaped(s, sb);
        sb.append('"');
    }

    /** The inside of a quoted string; escaping is per character, so chunks of a string can be escaped separately. */
    public static void appendEscaped(CharSequence s, StringBuilder sb) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append("\\u00").append(HEX[c >> 4]).append(HEX[c & 15]);
                    else sb.append(c);
                }
            }
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void write(JsonNode v, StringBuilder sb) {
        switch (v.getNodeType()) {
            case NULL, MISSING -> sb.append("null");
            case BOOLEAN -> sb.append(v.booleanValue() ? "true" : "false");
            case STRING -> appendQuoted(v.textValue(), sb);
            case NUMBER -> {
                if (v.isIntegralNumber()) sb.append(v.bigIntegerValue());
                else if (v.isBigDecimal()) sb.append(floatRepr(v.decimalValue().doubleValue()));
                else sb.append(floatRepr(v.doubleValue()));
            }
            case ARRAY -> {
                sb.append('[');
                for (int i = 0; i < v.size(); i++) {
                    if (i > 0) sb.append(", ");
                    write(v.get(i), sb);
                }
                sb.append(']');
            }
            case OBJECT -> {
                sb.append('{');
                boolean first = true;
                for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (!first) sb.append(", ");
                    first = false;
                    appendQuoted(e.getKey(), sb);
                    sb.append(": ");
                    write(e.getValue(), sb);
                }
                sb.append('}');
            }
            default -> throw new IllegalArgumentException("cannot serialise JSON node of type " + v.getNodeType());
        }
    }

    /**
     * Python's {@code repr(float)} as {@code json.dumps} prints it: the shortest digits that round-trip
     * (Java's {@link Double#toString} gives the same digits since JDK 19), fixed notation when the decimal
     * exponent is in [-4, 16), otherwise {@code d.ddde±XX}.
     */
    public static String floatRepr(double x) {
        if (Double.isNaN(x)) return "NaN";
        if (Double.isInfinite(x)) return x > 0 ? "Infinity" : "-Infinity";
        if (x == 0) return (1 / x < 0) ? "-0.0" : "0.0";
        String sign = x < 0 ? "-" : "";
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        if (bd.precision() == 2) {
            // Java never prints fewer than two digits (Double.MIN_VALUE is "4.9E-324"); Python prints
            // one when a one-digit decimal round-trips ("5e-324").
            BigDecimal one = bd.round(new java.math.MathContext(1, java.math.RoundingMode.HALF_EVEN));
            if (one.doubleValue() == Math.abs(x)) bd = one.stripTrailingZeros();
        }
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        StringBuilder sb = new StringBuilder(sign);
        if (exp >= -4 && exp < 16) {
            if (exp >= 0) {
                if (digits.length() <= exp + 1) {
                    sb.append(digits).append("0".repeat(exp + 1 - digits.length())).append(".0");
                } else {
                    sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length());
                }
            } else {
                sb.append("0.").append("0".repeat(-exp - 1)).append(digits);
            }
        } else {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) sb.append('0');
            sb.append(a);
        }
        return sb.toString();
    }
}
