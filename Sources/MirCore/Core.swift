import MirModel
import MirRegistry
import MirBuild
