"""What a remix of a gateway video generates upstream, and what it costs.

A video the gateway made in segments is remixed whole, and every second the upstream makes is charged:

- **an extended video** (``openai-2026-03`` makes 30 s as a 12 s create extended by 20 s; or a video made by
  ``/v1/videos/extensions``): its last upstream video holds the whole, so one upstream remix of it is made,
  as long as that whole (32 s), trimmed back as the source was. Noted ``remix->32(whole extended video,
  trimmed to 30)``.
- **a stitched video** (a chain of creates, ``12+12+8``, or a story's film): each part is remixed, the remixes
  stitched and cut as the source's parts were. Noted ``remix->12+12+8(each part,stitched,trimmed to 30)``.
- a video of one generation: one remix of it, nothing to note.
"""

from __future__ import annotations

from gateway.core.models import Job, Segment

# what a remix or edit of a video keeps from it: the trim to the asked length, the delivery format
INHERITED = ("trim_seconds", "output_format")
PART_SECONDS = "part_seconds"  # a story's film: what each part keeps (a remix of it is cut the same way)


def stitched(job: Job) -> bool:
    """Its parts were joined by the gateway (an extension chain's last video already holds the whole)."""
    return len(job.segments) > 1 and any(s.kind != "extend" for s in job.segments[1:])


def upstream_seconds(job: Job) -> int:
    """How long the upstream video of an unstitched job's last segment is (what a remix of it makes).

    Untrimmed, it is what the client got. Trimmed: an extension job's upstream video is its source
    (never trimmed: a trimmed video cannot be extended) plus what was generated; otherwise the
    generations add up (a rounded-up clip, a create extended, a remix of either).
    """
    generated = sum(s.seconds for s in job.segments)
    trim = job.requested.get("trim_seconds")
    if not trim:
        return int(job.seconds)
    first = job.segments[0]
    if first.kind == "extend":  # made by /extensions from another video (or an uploaded file)
        asked = int(str(job.requested.get("seconds") or 0) or 0)  # the extension the client asked for
        return int(trim) - asked + generated
    return generated


def remix_segments(source: Job, prompt: str) -> tuple[list[Segment], list[str]]:
    """(the remix's segments, its adaptation notes)."""
    trim = source.requested.get("trim_seconds")
    trimmed = f",trimmed to {trim}" if trim else ""
    if stitched(source):
        segments = [
            Segment(index=i, seconds=s.seconds, prompt=prompt, kind="remix", source_upstream_id=s.upstream_id)
            for i, s in enumerate(source.segments)
        ]
        lengths = "+".join(str(s.seconds) for s in source.segments)
        return segments, [f"remix->{lengths}(each part,stitched{trimmed})"]
    last = source.segments[-1]
    whole = upstream_seconds(source)
    segment = Segment(index=0, seconds=whole, prompt=prompt, kind="remix", source_upstream_id=last.upstream_id)
    extended = last.kind == "extend"
    return [segment], [f"remix->{whole}(whole extended video{trimmed})"] if extended else []
