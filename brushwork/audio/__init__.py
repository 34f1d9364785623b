"""Audio style transfer and texture synthesis (Ulyanov & Lebedev 2016) and the parts they share:
I/O, spectrograms and Griffin-Lim, random-filter features, measures and pictures.

    import brushwork
    out = brushwork.stylize_audio("speech.wav", "violin.ogg", callback=print)
    brushwork.audio.save_audio(out, "out.wav")        # at the content's sample rate
    more = brushwork.audio.synthesize_texture("rain.wav", seconds=30)
    brushwork.audio.evaluate("out.wav", content="speech.wav", style="violin.ogg")
"""
from .io import Audio, check_audio_output, load_audio, save_audio
from .measures import evaluate
from .pictures import save_spectrograms, spectrogram_picture
from .transfer import INITS, MODES, PHASES, stylize_audio, synthesize_texture

__all__ = ["INITS", "MODES", "PHASES", "Audio", "check_audio_output", "evaluate", "load_audio", "save_audio",
           "save_spectrograms", "spectrogram_picture", "stylize_audio", "synthesize_texture"]
