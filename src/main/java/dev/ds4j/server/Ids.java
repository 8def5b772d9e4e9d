package dev.ds4j.server;

import java.util.concurrent.ThreadLocalRandom;

/** Random ids for responses, items and tool calls (call_…, resp_…, msg_…, toolu_…). */
final class Ids {
    private Ids() {}

    static String hex(int digits) {
        StringBuilder sb = new StringBuilder(digits);
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < digits; i++) sb.append(Character.forDigit(r.nextInt(16), 16));
        return sb.toString();
    }
}
